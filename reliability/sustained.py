"""Load held for a while: an autosave storm while other partners submit (RELIABILITY.md L2/L3), and a soak of
mixed traffic whose memory and latency at the end are compared with those at the start (L6). Both on Q4, by
partners 8 and up (the earlier scenarios use partners 0-7 there)."""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from functools import partial

from . import checks, partner
from .client import OOB_VERSION, Browser, form_with
from .faults import wal_size
from .measure import MIB, Memory, mib
from .partner import StepFailed, expect
from .scenarios import Context, Row, _record_tally, _run_all
from .servers import PASSWORD

QUARTER = 4
# The soak's bounds, end against start: generous, for a shared 2-CPU machine.
RSS_GROWTH_BYTES = 32 * MIB  # or RSS_GROWTH_SHARE of the start, whichever is larger
RSS_GROWTH_SHARE = 0.10
P95_GROWTH_TIMES = 3.0  # the end's p95 at most 3 x the start's, plus P95_GROWTH_SECONDS
P95_GROWTH_SECONDS = 0.25
WAL_LIMIT_BYTES = 64 * MIB  # SQLite checkpoints as it goes: the write-ahead log does not grow without bound
LOG_ERRORS = ("Traceback", "QueuePool limit", "WORKER TIMEOUT", "database is locked")
YEAR = "2025-26"
REVIEW_LINK = re.compile(r'href="(/csu/returns/\d+)"')
EXPORTS = ("allocation.csv", "ledger.csv")  # finance's downloads of the year


@dataclass
class Typist:
    """A partner on the narrative page: the form it holds, and the last answer the portal confirmed saving."""

    n: int
    browser: Browser
    path: str
    form: dict[str, str] = field(default_factory=dict)
    version: int = 0
    last_saved: str | None = None

    def open(self) -> None:
        """GET the page: the form as the portal has it now, at the version saved now."""
        page = expect(self.browser.get(self.path), (200,), f"GET {self.path}")
        self.form = dict(form_with(page.body, "version")["fields"])
        mine = partner.answers(self.n)
        for name in ("case_study", "challenges", "partner_rag_reason"):
            self.form[name] = self.form.get(name) or str(mine[name])
        self.form["partner_rag"] = "green"
        self.version = int(self.form.get("version") or 0)

    def autosave(self, text: str) -> None:
        """An htmx autosave of `text` as the progress answer: answered 200 with the next version, exactly one more
        than the page held (no one else edits this return)."""
        data = {**self.form, "progress": text, "version": str(self.version)}
        headers = {"HX-Request": "true", "HX-Current-URL": self.path, "X-CSRFToken": self.form.get("csrf_token", "")}
        answer = expect(self.browser.post(self.path, data, headers=headers), (200,), f"autosave {self.path}")
        found = OOB_VERSION.search(answer.body)
        if found is None or int(found.group(1)) != self.version + 1:
            raise StepFailed(f"autosave from version {self.version} answered version {found and found.group(1)}")
        self.version += 1
        self.last_saved = text

    def save(self, text: str) -> None:
        """Save and continue with `text`: the plain form post, answered with a redirect."""
        data = {**self.form, "progress": text, "version": str(self.version), "save_continue": "Save and continue"}
        expect(self.browser.post(self.path, data), (302, 303), f"save {self.path}")
        self.last_saved = text


def _typist(context: Context, n: int, row: Row) -> Typist:
    browser = context.browser(n, row.recorder)
    typist = Typist(n, browser, f"{partner.return_path(context.partner(n)[1], QUARTER)}/narrative")
    typist.open()
    return typist


def _drafts_as_typed(row: Row, context: Context, typists: dict[int, Typist], versions: bool) -> None:
    """Each typist's return, read from the database: a draft holding exactly the last answer confirmed to them
    (no answer lost or overtaken by an older one), at the version their page holds."""
    rows, _values = checks.returns_in(context.scratch, QUARTER)
    wrong = []
    for n, typist in sorted(typists.items()):
        stored = rows.get(context.partner(n)[1])
        if stored is None or stored["progress"] != typist.last_saved:
            wrong.append(f"partner {n}: {stored and stored['progress']!r}, typed {typist.last_saved!r}")
        elif stored["status"] != "draft" or stored["revisions"] or stored["submitted_events"]:
            wrong.append(f"partner {n}: {stored['status']} with {stored['revisions']} revisions")
        elif versions and stored["version"] != typist.version:
            wrong.append(f"partner {n}: version {stored['version']} stored, {typist.version} on the page")
    row.lost += len(wrong)
    row.check(not wrong, f"{len(wrong)} draft(s) not as last typed: {wrong[:3]}")


# -- L2/L3: the autosave storm -----------------------------------------------------------------------------------


def _staff_reading(context: Context, row: Row, person: dict, every: float, end: float) -> None:
    """A CSU officer pages through the returns waiting for review, opening a few, every `every` seconds; a finance
    user downloads the year's allocation and ledger as CSV every 5 x `every` seconds."""
    browser = Browser(context.server.port, row.recorder)
    partner.sign_in_staff(browser, person["email"], PASSWORD, person["secret"])
    while time.monotonic() < end:
        if person["role"] == "csu":
            queue = expect(browser.get("/csu/reviews"), (200,), "review queue")
            links = REVIEW_LINK.findall(queue.body)
            for link in random.sample(links, min(3, len(links))):
                expect(browser.get(link), (200,), "a return to review")
            time.sleep(every)
        else:
            for export in EXPORTS:
                answer = expect(browser.get(f"/finance/{YEAR}/{export}"), (200,), export)
                if "text/csv" not in answer.headers.get("content-type", ""):
                    raise StepFailed(f"{export}: {answer.headers.get('content-type')}")
            time.sleep(every * 5)


def autosave_storm(
    context: Context, typing: list[int], submitting: list[int], staff: list[dict], seconds: float, every: float
) -> Row:
    """`typing` partners autosave the narrative every `every` seconds (give or take a fifth) for `seconds`, while
    the `submitting` partners fill in and submit their returns at moments spread over the first half, CSU officers
    page through the returns to review and finance users download exports (`staff`)."""
    row = Row(
        f"8 autosave storm ({len(typing)} typing every {every:g} s for {seconds:g} s, {len(submitting)} submitting, "
        f"{len(staff)} staff reading)",
        context.scratch.kind,
    )
    typists: dict[int, Typist] = {}
    confirmed: set[int] = set()
    end = time.monotonic() + seconds

    def type_away(n: int) -> None:
        typist = typists[n] = _typist(context, n, row)
        time.sleep(random.uniform(0, every))
        keystroke = 0
        while keystroke == 0 or time.monotonic() < end:  # at least once, however long signing in took
            keystroke += 1
            typist.autosave(f"partner {n} typing in the storm, autosave number {keystroke}")
            time.sleep(every * random.uniform(0.8, 1.2))

    def submit(n: int) -> None:
        _email, project_id = context.partner(n)
        time.sleep(random.uniform(0, seconds / 2))
        browser = context.browser(n, row.recorder)
        partner.fill_return(browser, project_id, QUARTER, n)
        response = partner.submit(browser, project_id, QUARTER, partner.check_form(browser, project_id, QUARTER))
        expect(browser.get(response.location), (200,), "submitted page")
        confirmed.add(project_id)

    jobs = [partial(type_away, n) for n in typing] + [partial(submit, n) for n in submitting]
    jobs += [partial(_staff_reading, context, row, person, every, end) for person in staff]
    errors = _run_all(jobs, threads=len(jobs))
    row.check(not errors, f"{len(errors)} partner(s) or staff failed: {errors[:3]}")
    _storm_outcome(row, context, typists, submitting, confirmed)
    return row


def _storm_outcome(
    row: Row, context: Context, typists: dict[int, Typist], submitting: list[int], confirmed: set[int]
) -> None:
    _drafts_as_typed(row, context, typists, versions=True)
    expected = {context.partner(n)[1]: n for n in submitting}
    result = checks.tally(context.scratch, QUARTER, expected, confirmed, event_per_save=False)
    _record_tally(row, result)
    row.check(result.submitted == len(submitting), f"{result.submitted}/{len(submitting)} submitted")
    mails = checks.submit_mails(context.scratch, QUARTER, submitting)
    officers = checks.officers(context.scratch)
    row.check(all(count == officers for count in mails.values()), f"submit mails: {sorted(set(mails.values()))}")
    row.check(row.recorder.server_errors == 0, f"{row.recorder.server_errors} responses >= 500")
    row.check(row.recorder.lost_connections == 0, f"{row.recorder.lost_connections} connections without an answer")
    saves = sum(typist.version for typist in typists.values())
    row.figures = f"{len(typists)} drafts as last typed; {result.submitted} submitted"
    row.notes.append(
        f"{len(typists)} typists' drafts at versions adding up to {saves}; {result.submitted} submitted, "
        f"mails per submit {sorted(set(mails.values()))} ({officers} CSU officers)"
    )


# -- L6: the soak ------------------------------------------------------------------------------------------------


def soak(context: Context, users: list[int], minutes: float) -> Row:
    """`users` partners for `minutes`: their home page, the return, the narrative with an autosave (every third
    time a Save and continue instead), and /healthz, with a short pause between. The first fifth warms up; the
    workers' RSS and the p95 of the second fifth are compared with those of the last fifth."""
    row = Row(f"9 soak ({len(users)} partners, {minutes:g} min)", context.scratch.kind)
    seconds = minutes * 60
    log_from = len(context.server.log_text())
    start = time.monotonic()
    end = start + seconds
    typists: dict[int, Typist] = {}

    def visit(n: int) -> None:
        typist = typists[n] = _typist(context, n, row)
        overview = f"{partner.return_path(context.partner(n)[1], QUARTER)}/"
        turn = 0
        while time.monotonic() < end:
            turn += 1
            expect(typist.browser.get("/partner/"), (200,), "home")
            expect(typist.browser.get(overview), (200,), "return overview")
            typist.open()
            text = f"partner {n} in the soak, turn {turn}"
            if turn % 3 == 0:
                typist.save(text)
            else:
                typist.autosave(text)
            expect(typist.browser.get("/healthz"), (200,), "healthz")
            time.sleep(random.uniform(0.2, 0.8))

    with Memory(context.server) as memory:
        errors = _run_all([partial(visit, n) for n in users], threads=len(users))
    row.check(not errors, f"{len(errors)} partner(s) failed: {errors[:3]}")
    _drafts_as_typed(row, context, typists, versions=False)
    early, late = (start + seconds * 0.2, start + seconds * 0.4), (end - seconds * 0.2, end)
    _compare(row, memory, early, late)
    row.check(row.recorder.server_errors == 0, f"{row.recorder.server_errors} responses >= 500")
    log = context.server.log_text()[log_from:]
    found = [mark for mark in LOG_ERRORS if mark in log]
    row.check(not found, f"in the gunicorn log during the soak: {found}")
    if context.scratch.kind == "sqlite":
        wal = wal_size(context.scratch.sqlite_path)
        row.check(wal <= WAL_LIMIT_BYTES, f"the write-ahead log is {mib(wal)}")
        row.notes.append(f"write-ahead log at the end: {mib(wal)}")
    return row


def _compare(row: Row, memory: Memory, early: tuple[float, float], late: tuple[float, float]) -> None:
    rss = memory.peak_total(early), memory.peak_total(late)
    p95 = row.recorder.percentile(0.95, early), row.recorder.percentile(0.95, late)
    allowed_rss = rss[0] + max(RSS_GROWTH_BYTES, int(rss[0] * RSS_GROWTH_SHARE))
    row.check(rss[0] > 0 and rss[1] <= allowed_rss, f"workers' RSS {mib(rss[0])} then {mib(rss[1])}")
    if p95[0] is None or p95[1] is None:
        row.fail("too few answers in the start or end window to compare p95")
    else:
        allowed = p95[0] * P95_GROWTH_TIMES + P95_GROWTH_SECONDS
        row.check(p95[1] <= allowed, f"p95 {p95[0] * 1000:.0f} ms then {p95[1] * 1000:.0f} ms")
    row.figures = (
        f"RSS {mib(rss[0])} → {mib(rss[1])} (≤ {mib(allowed_rss)}); p95 {_ms(p95[0])} → {_ms(p95[1])} ms (≤ 3× + 250)"
    )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"
