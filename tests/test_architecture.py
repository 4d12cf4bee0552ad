"""The house rules that keep one home for every rule: no import loop, short functions, one vocabulary,
and the definitions the CSU reads bound to the thresholds the code uses."""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

import pytest
from flask import render_template

from portal.models import vocabulary
from portal.services.delivery import delivery_rag, spend_rag

PORTAL = Path(__file__).resolve().parent.parent / "portal"
TEMPLATES = PORTAL / "templates"
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(PORTAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """The portal modules a module imports (a package's own __init__ is not an edge of its children)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PORTAL.rglob("*.py")}
    return {module: _imports(path, module, set(paths)) for module, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_portal_has_no_import_loop():
    graph = import_graph()
    assert "portal.csu.views" in graph["portal.csu"]  # the walk sees the route tables' imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_loop_finder_finds_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def long_functions() -> list[str]:
    """Functions over the limit with no `# long:` reason on the line above their definition."""
    found = []
    for path in PORTAL.rglob("*.py"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
                length = node.end_lineno - start + 1
                reason = start >= 2 and lines[start - 2].strip().startswith("# long:")
                if length > MAX_FUNCTION_LINES and not reason:
                    found.append(f"{path.relative_to(PORTAL)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_over_sixty_lines_without_a_reason():
    assert long_functions() == []


# The words a person reads for stored values, and the thresholds: written once, in models/vocabulary.py.
# "Paid", "Due", "Submitted" and "Approved" are also column headings or verbs in audit summaries, so they
# are not searched for here; the templates' tags below are.
VOCABULARY_WORDS = {
    "RAG words": {"Green", "Amber", "Red"},
    "status words": {"Not started", "Draft", "Changes requested", "Overdue", "Not required"},
    "schedule states": {"Held", "Not yet due"},
    "section states": {"Completed", "In progress"},
}


def string_constants(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


@pytest.mark.parametrize("kind", VOCABULARY_WORDS)
def test_each_word_is_defined_once(kind):
    words = VOCABULARY_WORDS[kind]
    in_code = {str(path.relative_to(PORTAL)) for path in PORTAL.rglob("*.py") if words & string_constants(path)}
    in_templates = {
        str(path.relative_to(PORTAL))
        for path in TEMPLATES.rglob("*.html")
        if re.search(rf"class=\"govuk-tag[^\"]*\">\s*({'|'.join(map(re.escape, words))})\s*<", path.read_text())
    }
    assert in_code | in_templates == {"models/vocabulary.py"}


def test_thresholds_and_tag_classes_are_defined_once():
    threshold = re.compile(r"""Decimal\(["'](90|70|75|110|125)(\.0)?["']\)""")
    assert [str(p.relative_to(PORTAL)) for p in PORTAL.rglob("*.py") if threshold.search(p.read_text())] == [
        "models/vocabulary.py"
    ]
    tags = [
        str(path.relative_to(PORTAL))
        for path in PORTAL.rglob("*.py")
        if any(value.startswith("govuk-tag--") for value in string_constants(path))
    ]
    assert tags == ["models/vocabulary.py"]


def test_templates_type_no_rag_or_status_word_for_a_stored_value():
    literal = re.compile(
        r"""(==|!=|in)\s*\(?["'](green|amber|red|draft|submitted|approved|changes_requested|not_started)["']"""
    )
    offenders = [
        str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html") if literal.search(path.read_text())
    ]
    assert offenders == []


def test_the_definitions_the_csu_reads_state_the_thresholds_the_code_uses(app):
    with app.test_request_context():
        text = render_template("csu/_definitions.html")
    assert f"Green at {vocabulary.GREEN_FROM}% or more" in text
    assert f"Amber at {vocabulary.AMBER_FROM}% or more" in text
    # ... and those are the thresholds the delivery RAG applies.
    assert delivery_rag(vocabulary.GREEN_FROM) == vocabulary.GREEN
    assert delivery_rag(vocabulary.GREEN_FROM - Decimal("0.1")) == vocabulary.AMBER
    assert delivery_rag(vocabulary.AMBER_FROM) == vocabulary.AMBER
    assert delivery_rag(vocabulary.AMBER_FROM - Decimal("0.1")) == vocabulary.RED
    # The spend RAG too, both ends of each range.
    green = f"Green from {vocabulary.SPEND_GREEN_FROM}% to {vocabulary.SPEND_GREEN_TO}% of the profile to date"
    assert green in text
    assert f"Amber from {vocabulary.SPEND_AMBER_FROM}% to {vocabulary.SPEND_AMBER_TO}%" in text
    tenth = Decimal("0.1")
    for pct, rag in [
        (vocabulary.SPEND_GREEN_FROM, vocabulary.GREEN),
        (vocabulary.SPEND_GREEN_TO, vocabulary.GREEN),
        (vocabulary.SPEND_GREEN_FROM - tenth, vocabulary.AMBER),
        (vocabulary.SPEND_GREEN_TO + tenth, vocabulary.AMBER),
        (vocabulary.SPEND_AMBER_FROM, vocabulary.AMBER),
        (vocabulary.SPEND_AMBER_TO, vocabulary.AMBER),
        (vocabulary.SPEND_AMBER_FROM - tenth, vocabulary.RED),
        (vocabulary.SPEND_AMBER_TO + tenth, vocabulary.RED),
    ]:
        assert spend_rag(pct, spend_pence=0, award_pence=1) == rag, pct


def test_forms_import_no_service():
    graph = import_graph()
    forms = {module: targets for module, targets in graph.items() if module.startswith("portal.forms")}
    assert {target for targets in forms.values() for target in targets if target.startswith("portal.services")} == set()
