"""Every page type timed in-process with Flask's test client, each interleaved with /healthz in the same run.

For each page: one request to warm it, then N rounds of (/healthz, the page). The page's median and p95 are set
against the median and p95 of the /healthz requests interleaved with it, so a machine that slows down for a while
slows both. Each request's SQL statements are counted with a `before_cursor_execute` listener; the response's size
is its body's. The autosave is a real one: the outputs form's htmx POST with its CSRF token, a changed figure and
the version the previous save answered with.

Pages are named by URL only, so the benchmark times whatever the app serves there (a paginated page included).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from sqlalchemy import event

from .build import BenchData

PARTNER, CSU, FINANCE, EXPORT = "partner", "csu", "finance", "export"
# An htmx autosave's answer moves the form on to the saved version (partner/_autosave_status.html).
SAVED_VERSION = re.compile(r'name="version" value="(\d+)"')


@dataclass(frozen=True)
class Page:
    name: str
    group: str  # partner, csu, finance or export: which goal applies
    role: str  # whose session asks for it
    path: str
    method: str = "GET"


def pages_for(data: BenchData) -> list[Page]:
    """Every page type, with ids from the data set: partner pages in the current year's open quarter, whole-year
    pages on the latest complete year (the most returns a year has)."""
    own = f"/partner/projects/{data.partner_project}"
    busy = data.busy_year
    return [
        Page("partner home", PARTNER, "partner", f"/partner/{data.current_year}/"),
        Page("partner project", PARTNER, "partner", own),
        Page("partner return overview", PARTNER, "partner", f"{own}/q{data.overview_quarter}/"),
        Page("partner outputs", PARTNER, "partner", f"{own}/q{data.open_quarter}/outputs"),
        Page("partner narrative", PARTNER, "partner", f"{own}/q{data.open_quarter}/narrative"),
        Page("partner autosave (POST)", PARTNER, "partner", f"{own}/q{data.open_quarter}/outputs", "POST"),
        Page("CSU overview", CSU, "csu", f"/csu/{busy}/"),
        Page("CSU project", CSU, "csu", f"/csu/projects/{data.csu_project}"),
        Page("CSU return review", CSU, "csu", f"/csu/returns/{data.review_return}"),
        Page("CSU review queue", CSU, "csu", "/csu/reviews"),
        Page("CSU due list", CSU, "csu", "/csu/due"),
        Page("CSU priorities", CSU, "csu", f"/csu/{busy}/priorities"),
        Page("CSU annual report", CSU, "csu", f"/csu/{busy}/annual-report"),
        Page("audit trail", CSU, "csu", "/audit/"),
        Page("finance home", FINANCE, "finance", f"/finance/{busy}/"),
        Page("finance reconciliation", FINANCE, "finance", f"/finance/{busy}/reconciliation"),
        Page("finance ledger", FINANCE, "finance", f"/finance/{busy}/ledger"),
        Page("finance project", FINANCE, "finance", f"/finance/projects/{data.csu_project}"),
        Page("projects.xlsx", EXPORT, "csu", f"/csu/{busy}/projects.xlsx"),
        Page("measures.xlsx", EXPORT, "csu", f"/csu/{busy}/measures.xlsx"),
        Page("ledger.xlsx", EXPORT, "finance", f"/finance/{busy}/ledger.xlsx"),
    ]


@dataclass
class Timing:
    """One page's figures: seconds of each timed request, and of the /healthz requests between them."""

    page: Page
    status: int | None = None
    error: str | None = None
    seconds: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    size: int = 0
    content_type: str = ""

    def as_dict(self) -> dict:
        ok = bool(self.seconds) and bool(self.healthz)
        return {
            "name": self.page.name,
            "group": self.page.group,
            "method": self.page.method,
            "path": self.page.path,
            "status": self.status,
            "error": self.error,
            "median_ms": ms(statistics.median(self.seconds)) if ok else None,
            "p95_ms": ms(p95(self.seconds)) if ok else None,
            "healthz_median_ms": ms(statistics.median(self.healthz)) if ok else None,
            "healthz_p95_ms": ms(p95(self.healthz)) if ok else None,
            "ratio": round(statistics.median(self.seconds) / statistics.median(self.healthz), 1) if ok else None,
            "ratio_p95": round(p95(self.seconds) / p95(self.healthz), 1) if ok else None,
            "queries": max(self.queries) if self.queries else None,
            "queries_min": min(self.queries) if self.queries else None,
            "sql_ms": ms(statistics.median(self.sql)) if self.sql else None,
            "bytes": self.size,
            "content_type": self.content_type,
            "repeat": len(self.seconds),
        }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank (of 20 values, the 19th)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


SKIPPED = ("submit", "button", "checkbox", "radio")  # inputs a save does not send as they stand


class _Fields(HTMLParser):
    """The named inputs of the form holding a `version` field (the section form), as a browser would send them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({})
        elif tag == "input" and self.forms and attributes.get("name") and attributes.get("type") not in SKIPPED:
            self.forms[-1][attributes["name"]] = attributes.get("value", "")


def section_form(html: str) -> dict[str, str]:
    parser = _Fields()
    parser.feed(html)
    return next(form for form in parser.forms if "version" in form)


class QueryCounter:
    """SQL statements sent to the database, and the time spent executing them (fetching rows aside)."""

    def __init__(self, engine) -> None:
        self.engine, self.count, self.seconds, self._started = engine, 0, 0.0, 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args) -> None:
        self.count += 1
        self._started = time.perf_counter()

    def _after(self, *_args) -> None:
        self.seconds += time.perf_counter() - self._started

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


class Autosave:
    """The outputs form's autosave, as htmx sends it: a changed figure each time, and the version last saved."""

    def __init__(self, client, path: str) -> None:
        page = client.get(path)
        self.path, self.form, self.turn = path, section_form(page.get_data(as_text=True)), 0
        self.measure = next(name for name in self.form if re.fullmatch(r"m\d+", name))

    def __call__(self, client):
        self.turn += 1
        body = {**self.form, self.measure: str(10 + self.turn % 7), "autosave": "1"}
        response = client.post(self.path, data=body, headers={"HX-Request": "true"})
        if found := SAVED_VERSION.search(response.get_data(as_text=True)):
            self.form["version"] = found.group(1)
        return response


def time_pages(app, data: BenchData, repeat: int, echo: Callable[[str], None] = print) -> list[dict]:
    """Every page of `pages_for(data)` timed `repeat` times, interleaved with /healthz."""
    from portal.extensions import db

    clients = {}
    for role, token in data.tokens.items():
        clients[role] = app.test_client()
        with clients[role].session_transaction() as session:
            session["_user_id"] = token
    health = app.test_client()
    with app.app_context():
        counter = QueryCounter(db.engine)
    results = []
    try:
        for page in pages_for(data):
            timing = _time_page(page, clients[page.role], health, counter, repeat)
            row = timing.as_dict()
            echo(_line(row))
            results.append(row)
    finally:
        counter.close()
    return results


def _time_page(page: Page, client, health, counter: QueryCounter, repeat: int) -> Timing:
    timing = Timing(page)
    try:
        request = Autosave(client, page.path) if page.method == "POST" else (lambda c: c.get(page.path))
        response = request(client)  # warm: templates compiled, caches filled
        timing.status = response.status_code
        if response.status_code != 200:
            timing.error = f"answered {response.status_code}"
            return timing
        for _ in range(repeat):
            started = time.perf_counter()
            health.get("/healthz")
            timing.healthz.append(time.perf_counter() - started)
            before, sql_before = counter.count, counter.seconds
            started = time.perf_counter()
            response = request(client)
            body = response.get_data()
            timing.seconds.append(time.perf_counter() - started)
            timing.queries.append(counter.count - before)
            timing.sql.append(counter.seconds - sql_before)
            if response.status_code != 200:
                timing.error = f"answered {response.status_code} on a repeat"
                timing.status = response.status_code
                return timing
        timing.size, timing.content_type = len(body), response.mimetype or ""
    except Exception as error:  # a page that fails is reported as such, and the run goes on
        timing.error = f"{error.__class__.__name__}: {str(error)[:200]}"
    return timing


def _line(row: dict) -> str:
    if row["median_ms"] is None:
        return f"  {row['name']:<28} {row['error']}"
    return (
        f"  {row['name']:<28} median {row['median_ms']:>9.1f} ms  p95 {row['p95_ms']:>9.1f} ms  "
        f"× healthz {row['ratio']:>7.1f}  queries {row['queries']:>4}  {row['bytes']:>10,} bytes"
    )


def profile(app, data: BenchData, name: str, top: int = 30) -> str:
    """cProfile of one request for the page called `name` (after a warming one): where its time goes."""
    import cProfile
    import io
    import pstats

    page = next(page for page in pages_for(data) if page.name == name)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = data.tokens[page.role]
    request = Autosave(client, page.path) if page.method == "POST" else (lambda c: c.get(page.path))
    request(client)
    profiler = cProfile.Profile()
    profiler.enable()
    request(client)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()
