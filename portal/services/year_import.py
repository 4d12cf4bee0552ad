"""Load one financial year from a YAML file: validate everything first, then write in one go.

Re-importing the same file changes nothing; a changed file updates by natural key
(year; stream name; organisation short name; project name within organisation and year;
measure name within project) and never duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import yaml
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..calendar import parse_year_label, year_label
from ..extensions import db
from ..models import (
    FinancialYear,
    FundingStream,
    MeasureValue,
    MonitoringReturn,
    Organisation,
    OutputMeasure,
    Priority,
    Project,
    ReturnRevision,
    User,
)
from ..models.project import COMBINES, unit_has_decimals
from ..models.types import utcnow
from ..models.vocabulary import APPROVED, COMBINE_SUM, NARRATIVE_LIMITS
from ..money import MoneyError, format_pence, pence_from_pounds
from ..quantities import QuantityError, parse_quantity
from . import audit
from .ledger import vary_award

TOP_LEVEL = {
    "financial_year",
    "return_due_days",
    "illustrative",
    "illustrative_note",
    "funding_streams",
    "priorities",
    "organisations",
    "projects",
    "returns",
}
STREAM_FIELDS = {"name", "funder", "amount"}
ORGANISATION_FIELDS = {"short_name", "name", "charity_number", "company_number", "contact_email", "contact_phone"}
PROJECT_FIELDS = {
    "organisation",
    "name",
    "funding_stream",
    "amount",
    "priority",
    "actions",
    "description",
    "measures",
    "spend_profile",
}
MEASURE_FIELDS = {
    "name",
    "unit",
    "definition",
    "combine",
    "annual_target",
    "quarterly_targets",
    "decimals",
    "counts_people",
    "retired",
}
RETURN_FIELDS = {"organisation", "project", "quarter", "spend", "values", "progress"}


Path = tuple[str | int, ...]


class Where(str):
    """An entry's name in messages ("projects[2] (DAVSS / …)"), carrying its place in the data as a path,
    ("projects", 2), so that a reader of another format (the set-up workbook) can say where that is for it."""

    path: Path

    def __new__(cls, text: str, path: Path) -> Where:
        where = super().__new__(cls, text)
        where.path = path
        return where


@dataclass(frozen=True)
class Problem:
    """One problem: the entry's path and the message after it ("amount: must be …" names the field)."""

    path: Path
    message: str

    @property
    def field(self) -> str | None:
        """The field the message starts with ("amount", "quarterly_targets[2]"), or None."""
        head, sep, _ = self.message.partition(": ")
        return head if sep and re.fullmatch(r"[a-z_]+(\[[0-9]\]| Q[1-4])?", head) else None

    @property
    def detail(self) -> str:
        """The message without its field's name."""
        return self.message.partition(": ")[2] if self.field else self.message


class YearImportError(Exception):
    """The file is not valid; nothing was written. `errors` names each entry and field; `problems` are the
    same, with each entry's path."""

    def __init__(self, errors: list[str], problems: list[Problem] | None = None):
        super().__init__(f"{len(errors)} problem(s) in the year file")
        self.errors = errors
        self.problems = problems or [Problem((), error) for error in errors]


class _Loader(yaml.SafeLoader):
    """YAML with decimals kept exact: 34218.10 is Decimal('34218.10'), never a float."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal | str:
    text = loader.construct_scalar(node)
    try:
        return Decimal(text.replace("_", ""))
    except ArithmeticError:
        return text


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)


@dataclass(frozen=True)
class YearPlan:
    start_year: int
    return_due_days: int
    illustrative: bool
    illustrative_note: str | None

    @property
    def label(self) -> str:
        return year_label(self.start_year)


@dataclass(frozen=True)
class StreamPlan:
    name: str
    funder: str
    amount_pence: int


@dataclass(frozen=True)
class OrganisationPlan:
    short_name: str
    name: str
    charity_number: str | None
    company_number: str | None
    contact_email: str | None
    contact_phone: str | None


@dataclass(frozen=True)
class MeasurePlan:
    name: str
    unit: str
    definition: str | None
    combine: str
    annual_target: Decimal | None
    quarterly_targets: list[Decimal | None]
    decimals: bool  # whether values may have decimal places (hours), else whole numbers
    retired: bool | None = None  # True: retire it; False: ask for it again; None (not in the file): as it is
    counts_people: bool = False  # published figures from 1 to the threshold are suppressed (services/disclosure.py)


@dataclass(frozen=True)
class ProjectPlan:
    organisation: str  # short name
    name: str
    stream: str
    priority: str | None
    amount_pence: int
    actions: list[str]
    description: str | None
    measures: list[MeasurePlan]
    spend_profile: list[int] | None = None  # planned spend per quarter in pence; None: the award ÷ 4 each

    @property
    def key(self) -> tuple[str, str]:
        return self.organisation, self.name


@dataclass(frozen=True)
class ReturnPlan:
    organisation: str  # short name
    project: str
    quarter: int
    spend_pence: int | None
    values: dict[str, Decimal]  # by measure name
    progress: str | None
    where: str  # the entry, for an error found later

    @property
    def key(self) -> tuple[str, str]:
        return self.organisation, self.project


@dataclass(frozen=True)
class ImportPlan:
    """The whole file, checked and normalised, keyed by natural key; `apply` writes it.

    A required field that failed holds "" or 0 beside its error, and `validate` never returns such a plan.
    """

    year: YearPlan
    streams: dict[str, StreamPlan]
    priorities: list[str]  # names, in rank order
    organisations: dict[str, OrganisationPlan]
    projects: dict[tuple[str, str], ProjectPlan]
    returns: list[ReturnPlan]


@dataclass
class ImportSummary:
    year_label: str
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    actor: User | None = None  # who is importing, for the audit trail (None from the command line)
    source: str = "the year import"  # what changed an award, as the ledger's variation says

    def count(self, kind: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[kind] = target.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


# -- validation ---------------------------------------------------------------------------------


class _Checker:
    """Collects every problem in the file, each naming its entry and field."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.problems: list[Problem] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")
        self.problems.append(Problem(where.path if isinstance(where, Where) else (str(where),), message))

    def flag(self, entry: dict, name: str, where: str) -> bool | None:
        """A true-or-false field; None when it is not given."""
        value = entry.get(name)
        if value is not None and not isinstance(value, bool):
            self.error(where, f"{name}: must be true or false")
            return None
        return value

    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict | None:
        if not isinstance(value, dict):
            self.error(where, "must be a mapping of fields")
            return None
        for key in sorted(set(map(str, value)) - allowed):
            self.error(where, f"unknown field '{key}'")
        return value

    def entries(self, data: dict, key: str, *, required: bool) -> list:
        value = data.get(key)
        if value is None:
            if required:
                self.error(key, "is required")
            return []
        if not isinstance(value, list):
            self.error(key, "must be a list")
            return []
        return value

    def text(self, entry: dict, name: str, where: str, *, required: bool = True, limit: int = 300) -> str | None:
        value = entry.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(where, f"{name}: is required")
            return None
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(where, f"{name}: must be text")
            return None
        value = value.strip()
        if len(value) > limit:
            self.error(where, f"{name}: must be {limit} characters or fewer")
            return None
        if "\x00" in value:
            self.error(where, f"{name}: must not contain a NUL character")
            return None
        return value

    def money(self, entry: dict, name: str, where: str, *, required: bool = True) -> int | None:
        value = entry.get(name)
        if value is None:
            if required:
                self.error(where, f"{name}: is required")
            return None
        try:
            return pence_from_pounds(value)
        except MoneyError as error:
            self.error(where, f"{name}: {error}")
            return None

    def quantity(self, value: Any, where: str, name: str, *, decimals: bool) -> Decimal | None:
        try:
            return parse_quantity(value, decimals=decimals)
        except QuantityError as error:
            self.error(where, f"{name}: {error}")
            return None


def _where(kind: str, index: int, entry: Any, *keys: str) -> Where:
    return Where(f"{kind}[{index}]{_label(entry, *keys)}", (kind, index))


def _label(entry: Any, *keys: str) -> str:
    if not isinstance(entry, dict):
        return ""
    parts = [str(entry[key]) for key in keys if entry.get(key) is not None]
    return f" ({' / '.join(parts)})" if parts else ""


def parse(text: str) -> dict:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise YearImportError([f"file: is not valid YAML ({error.__class__.__name__}: {error})"]) from error
    if not isinstance(data, dict):
        raise YearImportError(["file: must be a mapping with financial_year, funding_streams, projects…"])
    return data


def validate(data: dict) -> ImportPlan:
    """Check the whole file against itself and the database; return a normalised plan or raise."""
    check = _Checker()
    check.mapping(data, "file", TOP_LEVEL)
    year, existing_year = _validate_year(check, data)
    streams = _validate_streams(check, data)
    priorities = _validate_priorities(check, data)
    organisations = _validate_organisations(check, data)
    projects = _validate_projects(check, data, streams=streams, priorities=priorities, organisations=organisations)
    returns = _validate_returns(check, data, projects)
    if not check.errors and existing_year is not None:
        _check_existing_returns(check, existing_year, returns)
    if check.errors:
        raise YearImportError(check.errors, check.problems)
    return ImportPlan(
        year=year,
        streams=streams,
        priorities=priorities,
        organisations=organisations,
        projects=projects,
        returns=returns,
    )


def _validate_year(check: _Checker, data: dict) -> tuple[YearPlan, FinancialYear | None]:
    """The year's own fields, and the year as the portal already holds it (which must be open)."""
    label = data.get("financial_year")
    start_year = parse_year_label(str(label)) if label is not None else None
    if label is None:
        check.error("financial_year", "is required: write it like 2021-22")
    elif start_year is None:
        check.error("financial_year", f"'{label}' is not a financial year: write it like 2021-22")
    due_days = data.get("return_due_days", 14)
    if isinstance(due_days, bool) or not isinstance(due_days, int) or not 0 <= due_days <= 120:
        check.error("return_due_days", "must be a whole number of days from 0 to 120")
    illustrative = data.get("illustrative", False)
    if not isinstance(illustrative, bool):
        check.error("illustrative", "must be true or false")
    year = YearPlan(
        start_year=start_year or 0,
        return_due_days=due_days,
        illustrative=illustrative is True,
        illustrative_note=check.text(data, "illustrative_note", "file", required=False, limit=2000),
    )
    return year, _open_year(check, label, start_year)


def _open_year(check: _Checker, label: Any, start_year: int | None) -> FinancialYear | None:
    if start_year is None:
        return None
    existing = db.session.scalar(select(FinancialYear).where(FinancialYear.start_year == start_year))
    if existing is not None and existing.is_closed:
        check.error("financial_year", f"{label} is closed: reopen it before importing changes")
    return existing


def _validate_streams(check: _Checker, data: dict) -> dict[str, StreamPlan]:
    streams: dict[str, StreamPlan] = {}
    for index, entry in enumerate(check.entries(data, "funding_streams", required=True)):
        where = _where("funding_streams", index, entry, "name")
        if check.mapping(entry, where, STREAM_FIELDS) is None:
            continue
        name = check.text(entry, "name", where, limit=200)
        funder = check.text(entry, "funder", where, limit=200)
        amount = check.money(entry, "amount", where)
        if name in streams:
            check.error(where, f"name: the funding stream '{name}' is listed twice")
        elif name:
            streams[name] = StreamPlan(name=name, funder=funder or "", amount_pence=amount or 0)
    return streams


def _validate_priorities(check: _Checker, data: dict) -> list[str]:
    """The priorities' names, in rank order."""
    priorities: list[str] = []
    for index, entry in enumerate(check.entries(data, "priorities", required=False)):
        where = _where("priorities", index, None)
        if not isinstance(entry, str) or not entry.strip():
            check.error(where, "must be the priority's name")
        elif entry.strip() in priorities:
            check.error(where, f"the priority '{entry.strip()}' is listed twice")
        else:
            priorities.append(entry.strip())
    return priorities


def _validate_organisations(check: _Checker, data: dict) -> dict[str, OrganisationPlan]:
    organisations: dict[str, OrganisationPlan] = {}
    for index, entry in enumerate(check.entries(data, "organisations", required=False)):
        where = _where("organisations", index, entry, "short_name")
        if check.mapping(entry, where, ORGANISATION_FIELDS) is None:
            continue
        short_name = check.text(entry, "short_name", where, limit=50)
        organisation = OrganisationPlan(
            short_name=short_name or "",
            name=check.text(entry, "name", where) or "",
            charity_number=check.text(entry, "charity_number", where, required=False, limit=20),
            company_number=check.text(entry, "company_number", where, required=False, limit=20),
            contact_email=check.text(entry, "contact_email", where, required=False, limit=320),
            contact_phone=check.text(entry, "contact_phone", where, required=False, limit=40),
        )
        if short_name in organisations:
            check.error(where, f"short_name: the organisation '{short_name}' is listed twice")
        elif short_name:
            organisations[short_name] = organisation
    return organisations


def _validate_projects(
    check: _Checker,
    data: dict,
    *,
    streams: dict[str, StreamPlan],
    priorities: list[str],
    organisations: dict[str, OrganisationPlan],
) -> dict[tuple[str, str], ProjectPlan]:
    """Projects by (organisation, name); an organisation may be in the file or already in the portal."""
    known_organisations = set(organisations) | set(db.session.scalars(select(Organisation.short_name)))
    projects: dict[tuple[str, str], ProjectPlan] = {}
    for index, entry in enumerate(check.entries(data, "projects", required=False)):
        where = _where("projects", index, entry, "organisation", "name")
        if check.mapping(entry, where, PROJECT_FIELDS) is None:
            continue
        project = _validate_project(check, entry, where, known_organisations, streams, priorities)
        if project.key in projects:
            check.error(where, f"name: the project '{project.name}' of {project.organisation} is listed twice")
        elif project.organisation and project.name:
            projects[project.key] = project
    return projects


def _validate_project(
    check: _Checker,
    entry: dict,
    where: Where,
    known_organisations: set[str],
    streams: dict[str, StreamPlan],
    priorities: list[str],
) -> ProjectPlan:
    organisation = check.text(entry, "organisation", where, limit=50)
    name = check.text(entry, "name", where)
    stream = check.text(entry, "funding_stream", where, limit=200)
    priority = check.text(entry, "priority", where, required=False)
    amount = check.money(entry, "amount", where)
    if organisation and organisation not in known_organisations:
        check.error(where, f"organisation: '{organisation}' is not an organisation in this file or the portal")
    if stream and stream not in streams:
        check.error(where, f"funding_stream: '{stream}' is not a funding stream in this file")
    if priority and priority not in priorities:
        check.error(where, f"priority: '{priority}' is not one of this file's priorities")
    return ProjectPlan(
        organisation=organisation or "",
        name=name or "",
        stream=stream or "",
        priority=priority,
        amount_pence=amount or 0,
        actions=_validate_actions(check, entry, where),
        description=check.text(entry, "description", where, required=False, limit=2000),
        measures=_validate_measures(check, entry.get("measures"), where),
        spend_profile=_validate_spend_profile(check, entry.get("spend_profile"), where, amount),
    )


def _validate_spend_profile(check: _Checker, profile: Any, where: str, award_pence: int | None) -> list[int] | None:
    """Four amounts in pounds, Q1 to Q4, checked like any other money and adding up to the award."""
    if profile is None:
        return None
    if not isinstance(profile, list) or len(profile) != 4:
        check.error(
            where, "spend_profile: must list 4 amounts in pounds, one per quarter, like [2500, 2500, 2500, 2500]"
        )
        return None
    found = []
    for quarter, value in enumerate(profile, start=1):
        name = f"spend_profile Q{quarter}"
        pence = check.money({name: value}, name, where)
        if pence is not None:
            found.append(pence)
    if len(found) != 4:
        return None
    if award_pence is not None and sum(found) != award_pence:
        check.error(
            where,
            f"spend_profile: the quarters add up to {format_pence(sum(found))}, "
            f"not the award of {format_pence(award_pence)}",
        )
        return None
    return found


def _validate_actions(check: _Checker, entry: dict, where: str) -> list[str]:
    actions = entry.get("actions") or []
    if not isinstance(actions, list) or not all(isinstance(a, (str, int, Decimal)) for a in actions):
        check.error(where, 'actions: must be a list of action-plan references, like ["3.2", "3.5"]')
        return []
    return [str(action) for action in actions]


def _validate_measures(check: _Checker, measures: Any, where: Where) -> list[MeasurePlan]:
    if measures is None:
        return []
    if not isinstance(measures, list):
        check.error(where, "measures: must be a list")
        return []
    found: list[MeasurePlan] = []
    for index, entry in enumerate(measures):
        at = Where(f"{where} measures[{index}]{_label(entry, 'name')}", (*where.path, "measures", index))
        if check.mapping(entry, at, MEASURE_FIELDS) is None:
            continue
        measure = _validate_measure(check, entry, at)
        if any(other.name == measure.name for other in found):
            check.error(at, f"name: the measure '{measure.name}' is listed twice")
        elif measure.name:
            # Only a measure that is kept has its definition checked.
            definition = check.text(entry, "definition", at, required=False, limit=2000)
            found.append(replace(measure, definition=definition))
    return found


def _validate_measure(check: _Checker, entry: dict, at: str) -> MeasurePlan:
    """Every field but the definition, which the caller checks once it keeps the measure."""
    name = check.text(entry, "name", at, limit=200)
    unit = check.text(entry, "unit", at, limit=50)
    combine = entry.get("combine", COMBINE_SUM)
    if combine not in COMBINES:
        check.error(at, "combine: must be sum or latest")
    chosen = check.flag(entry, "decimals", at)
    decimals = unit_has_decimals(unit) if chosen is None else chosen
    target = entry.get("annual_target")
    annual = check.quantity(target, at, "annual_target", decimals=decimals) if target is not None else None
    return MeasurePlan(
        name=name or "",
        unit=unit or "",
        definition=None,
        combine=combine,
        annual_target=annual,
        quarterly_targets=_validate_quarterly_targets(check, entry.get("quarterly_targets"), at, decimals),
        decimals=decimals,
        retired=check.flag(entry, "retired", at),
        counts_people=bool(check.flag(entry, "counts_people", at)),
    )


def _validate_quarterly_targets(check: _Checker, targets: Any, at: str, decimals: bool) -> list[Decimal | None]:
    if targets is None:
        return [None] * 4
    if not isinstance(targets, list) or len(targets) != 4:
        check.error(at, "quarterly_targets: must list 4 targets, one per quarter")
        return [None] * 4
    found: list[Decimal | None] = []
    for q, value in enumerate(targets):
        if value is None:
            check.error(at, f"quarterly_targets[{q}]: enter a target for every quarter, or for none")
            found.append(None)
        else:
            found.append(check.quantity(value, at, f"quarterly_targets[{q}]", decimals=decimals))
    return found


def _validate_returns(check: _Checker, data: dict, projects: dict[tuple[str, str], ProjectPlan]) -> list[ReturnPlan]:
    returns: list[ReturnPlan] = []
    seen: set[tuple[tuple[str | None, str | None], int | None]] = set()
    for index, entry in enumerate(check.entries(data, "returns", required=False)):
        where = _where("returns", index, entry, "organisation", "project", "quarter")
        if check.mapping(entry, where, RETURN_FIELDS) is None:
            continue
        returns.append(_validate_return(check, entry, where, projects, seen))
    return returns


def _validate_return(
    check: _Checker,
    entry: dict,
    where: str,
    projects: dict[tuple[str, str], ProjectPlan],
    seen: set[tuple[tuple[str | None, str | None], int | None]],
) -> ReturnPlan:
    """One return; `seen` collects (organisation, project) and quarter to find one listed twice."""
    organisation = check.text(entry, "organisation", where, limit=50)
    name = check.text(entry, "project", where)
    quarter = entry.get("quarter")
    if isinstance(quarter, bool) or not isinstance(quarter, int) or not 1 <= quarter <= 4:
        check.error(where, "quarter: must be 1, 2, 3 or 4")
        quarter = None
    project = projects.get((organisation, name)) if organisation and name else None
    if project is None and organisation and name:
        check.error(where, f"project: '{name}' of {organisation} is not a project in this file")
    if quarter and ((organisation, name), quarter) in seen:
        check.error(where, f"quarter: Q{quarter} of '{name}' is listed twice")
    seen.add(((organisation, name), quarter))
    values = _validate_values(check, entry.get("values") or {}, project, where)
    return ReturnPlan(
        organisation=organisation or "",
        project=name or "",
        quarter=quarter or 0,
        spend_pence=check.money(entry, "spend", where, required=False),
        values=values,
        progress=check.text(entry, "progress", where, required=False, limit=NARRATIVE_LIMITS["progress"]),
        where=where,
    )


def _validate_values(check: _Checker, values: Any, project: ProjectPlan | None, where: str) -> dict[str, Decimal]:
    """A return's figures by measure name; they can only be checked against a project in the file."""
    if not isinstance(values, dict):
        check.error(where, "values: must map each measure's name to its value")
        return {}
    if project is None:
        return {}
    measures = {measure.name: measure for measure in project.measures}
    parsed: dict[str, Decimal] = {}
    for measure_name, value in values.items():
        measure = measures.get(str(measure_name))
        if measure is None:
            check.error(where, f"values: '{measure_name}' is not a measure of this project")
            continue
        number = check.quantity(value, where, f"values: {measure_name}", decimals=measure.decimals)
        if number is not None:
            parsed[measure.name] = number
    return parsed


def _check_existing_returns(check: _Checker, year: FinancialYear, returns: list[ReturnPlan]) -> None:
    """A return already in the portal is never overwritten by an import with other figures."""
    existing = {
        (mreturn.project.organisation.short_name, mreturn.project.name, mreturn.quarter): mreturn
        for mreturn in db.session.scalars(
            select(MonitoringReturn)
            .join(MonitoringReturn.project)
            .where(Project.year_id == year.id)
            .options(
                selectinload(MonitoringReturn.values).selectinload(MeasureValue.measure),
                selectinload(MonitoringReturn.project).selectinload(Project.organisation),
            )
        )
    }
    for entry in returns:
        mreturn = existing.get((*entry.key, entry.quarter))
        if mreturn is None:
            continue
        if mreturn.status != APPROVED or _return_snapshot(mreturn) != _entry_snapshot(entry):
            check.error(
                entry.where,
                f"quarter: the portal already holds a Q{entry.quarter} return with other figures; "
                "change it by reopening it in the portal, not by import",
            )


def _return_snapshot(mreturn: MonitoringReturn) -> tuple[int | None, dict[str, Decimal], str | None]:
    values = {value.measure.name: value.value for value in mreturn.values if value.value is not None}
    return mreturn.spend_pence, values, mreturn.progress


def _entry_snapshot(entry: ReturnPlan) -> tuple[int | None, dict[str, Decimal], str | None]:
    return entry.spend_pence, entry.values, entry.progress


# -- writing ------------------------------------------------------------------------------------


def _assign(obj: Any, values: dict[str, Any]) -> dict[str, list]:
    """Set attributes and return {name: [before, after]} for those that changed."""
    changes = {}
    for name, value in values.items():
        before = getattr(obj, name)
        if before != value:
            changes[name] = [_plain(before), _plain(value)]
            setattr(obj, name, value)
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class _Row(Protocol):
    id: int


_R = TypeVar("_R", bound=_Row)


def _upsert(
    model: type[_R],
    lookup: dict[str, Any],
    values: dict[str, Any],
    summary: ImportSummary,
    kind: str,
    describe: str,
    organisation_id: int | None = None,
) -> _R:
    """Find the row by its natural key or add it, set `values`, and audit what changed."""
    obj = db.session.scalar(select(model).filter_by(**lookup))
    created = obj is None
    if obj is None:
        obj = model(**lookup)
        db.session.add(obj)
    changes = _assign(obj, values)
    if created or changes:
        db.session.flush()
        summary.count(kind, created)
        audit.record(
            f"{kind}.{'created' if created else 'updated'}",
            object_type=kind,
            object_id=obj.id,
            summary=f"{'Imported' if created else 'Updated by import'}: {describe}",
            actor=summary.actor,
            organisation_id=organisation_id if organisation_id is not None else getattr(obj, "organisation_id", None),
            details={"changes": changes},
        )
    return obj


def apply(plan: ImportPlan, *, actor: User | None = None, source: str = "the year import") -> ImportSummary:
    """Write a validated plan by natural key, table by table; the caller commits. `source` names what is
    importing (the year file, the set-up workbook) in the reason of an award it changes."""
    summary = ImportSummary(year_label=plan.year.label, actor=actor, source=source)
    year = _apply_year(plan.year, summary)
    streams = _apply_streams(plan.streams, year, summary)
    priorities = _apply_priorities(plan.priorities, year, summary)
    organisations = _apply_organisations(plan.organisations, summary)
    projects = {
        key: _apply_project(
            planned, year, summary, streams=streams, priorities=priorities, organisations=organisations, actor=actor
        )
        for key, planned in plan.projects.items()
    }
    for entry in plan.returns:
        project, measures = projects[entry.key]
        _import_return(project, measures, entry, summary)
    return summary


def _apply_year(year: YearPlan, summary: ImportSummary) -> FinancialYear:
    values = {
        "return_due_days": year.return_due_days,
        "illustrative": year.illustrative,
        "illustrative_note": year.illustrative_note,
    }
    return _upsert(FinancialYear, {"start_year": year.start_year}, values, summary, "financial_year", year.label)


def _apply_streams(
    streams: dict[str, StreamPlan], year: FinancialYear, summary: ImportSummary
) -> dict[str, FundingStream]:
    return {
        name: _upsert(
            FundingStream,
            {"year_id": year.id, "name": name},
            {"funder": stream.funder, "amount_pence": stream.amount_pence},
            summary,
            "funding_stream",
            f"{name} {format_pence(stream.amount_pence)}",
        )
        for name, stream in streams.items()
    }


def _apply_priorities(priorities: list[str], year: FinancialYear, summary: ImportSummary) -> dict[str, Priority]:
    return {
        name: _upsert(Priority, {"year_id": year.id, "name": name}, {"rank": rank}, summary, "priority", name)
        for rank, name in enumerate(priorities, start=1)
    }


def _apply_organisations(organisations: dict[str, OrganisationPlan], summary: ImportSummary) -> dict[str, Organisation]:
    return {
        short_name: _upsert(
            Organisation,
            {"short_name": short_name},
            {
                "name": organisation.name,
                "charity_number": organisation.charity_number,
                "company_number": organisation.company_number,
                "contact_email": organisation.contact_email,
                "contact_phone": organisation.contact_phone,
            },
            summary,
            "organisation",
            short_name,
        )
        for short_name, organisation in organisations.items()
    }


def _apply_project(
    planned: ProjectPlan,
    year: FinancialYear,
    summary: ImportSummary,
    *,
    streams: dict[str, FundingStream],
    priorities: dict[str, Priority],
    organisations: dict[str, Organisation],
    actor: User | None,
) -> tuple[Project, dict[str, OutputMeasure]]:
    """The project and its measures by name; an organisation not in the file is already in the portal."""
    organisation = (
        organisations.get(planned.organisation)
        or db.session.scalars(select(Organisation).where(Organisation.short_name == planned.organisation)).one()
    )
    lookup = {"organisation_id": organisation.id, "year_id": year.id, "name": planned.name}
    existing = db.session.scalar(select(Project).filter_by(**lookup))
    values = {
        "funding_stream_id": streams[planned.stream].id,
        "priority_id": priorities[planned.priority].id if planned.priority else None,
        "actions": planned.actions,
        "description": planned.description,
        "spend_profile": planned.spend_profile,
    }
    if existing is None:
        values["amount_pence"] = planned.amount_pence
    describe = f"{planned.organisation}: {planned.name} {format_pence(planned.amount_pence)}"
    project = _upsert(Project, lookup, values, summary, "project", describe)
    if existing is not None and project.amount_pence != planned.amount_pence:
        # A changed award is a variation, kept with the original like any other.
        vary_award(
            project,
            to_pence=planned.amount_pence,
            reason=f"Changed by {summary.source}",
            by=actor,
            action="award.varied_by_import",
        )
        summary.count("award_variation", True)
    return project, _apply_measures(planned, project, organisation.id, summary)


def _apply_measures(
    planned: ProjectPlan, project: Project, organisation_id: int, summary: ImportSummary
) -> dict[str, OutputMeasure]:
    """The project's measures by name, in the file's order."""
    retired = dict(
        db.session.execute(
            select(OutputMeasure.name, OutputMeasure.retired_at).where(OutputMeasure.project_id == project.id)
        ).all()
    )
    return {
        measure.name: _upsert(
            OutputMeasure,
            {"project_id": project.id, "name": measure.name},
            {
                "position": position,
                "decimals": measure.decimals,
                "counts_people": measure.counts_people,
                "retired_at": _retired_at(retired.get(measure.name), measure.retired),
                "unit": measure.unit,
                "definition": measure.definition,
                "combine": measure.combine,
                "annual_target": measure.annual_target,
                "q1_target": measure.quarterly_targets[0],
                "q2_target": measure.quarterly_targets[1],
                "q3_target": measure.quarterly_targets[2],
                "q4_target": measure.quarterly_targets[3],
            },
            summary,
            "output_measure",
            f"{planned.organisation}: {planned.name}: {measure.name}",
            organisation_id=organisation_id,
        )
        for position, measure in enumerate(planned.measures)
    }


def _retired_at(now: datetime | None, retired: bool | None) -> datetime | None:
    """When a measure was retired: kept when the file says nothing or says it is retired and it already is."""
    if retired is None or retired == (now is not None):
        return now
    return utcnow() if retired else None


def _import_return(
    project: Project, measures: dict[str, OutputMeasure], entry: ReturnPlan, summary: ImportSummary
) -> None:
    exists = db.session.scalar(
        select(MonitoringReturn.id).where(
            MonitoringReturn.project_id == project.id, MonitoringReturn.quarter == entry.quarter
        )
    )
    if exists is not None:
        return  # validation proved it identical
    now = utcnow()
    mreturn = MonitoringReturn(
        project=project,
        quarter=entry.quarter,
        status=APPROVED,
        spend_pence=entry.spend_pence,
        progress=entry.progress,
        submitted_at=now,
        approved_at=now,
        values=[MeasureValue(measure=measures[name], value=value) for name, value in entry.values.items()],
    )
    db.session.add(mreturn)
    db.session.flush()
    db.session.add(ReturnRevision.snapshot(mreturn, number=1, at=now, by_id=None, submission_key=None))
    summary.count("monitoring_return", True)
    audit.record(
        "monitoring_return.imported",
        object_type="monitoring_return",
        object_id=mreturn.id,
        summary=f"Imported approved Q{entry.quarter} return: {project.name}",
        organisation_id=project.organisation_id,
        details={"quarter": entry.quarter, "values": {k: str(v) for k, v in entry.values.items()}},
    )


def import_year(text: str, *, actor: User | None = None) -> ImportSummary:
    """Validate and write; the caller commits. Raises YearImportError with every problem found."""
    plan = validate(parse(text))
    return apply(plan, actor=actor)
