"""The five scenarios. Each returns a Row for the table; a Row fails when any of its checks failed.

Partners are numbered in the order reliability.seed made them. Each scenario uses its own quarter or partners, so
the scenarios run one after another on one scratch database: load on Q1, kill -9 on Q2, the races on Q3, the
database unavailable and the two instances on Q4.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from . import checks, partner
from .client import Browser, ConnectionLost, Recorder, Response, form_with, forms_of
from .measure import MIB, Health, Memory, mib
from .partner import StepFailed
from .servers import PASSWORD, Gunicorn, Scratch


@dataclass
class Row:
    scenario: str
    database: str
    recorder: Recorder = field(default_factory=Recorder)
    lost: int = 0
    duplicated: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expected_5xx: bool = False  # the database-unavailable scenario answers 503 on purpose
    figures: str = ""  # what was measured against a stated bound (the table's last column)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Context:
    scratch: Scratch
    server: Gunicorn
    workers: int
    # Each partner's session cookies once signed in: a partner who submitted Q1 goes on to Q2 in the same session.
    sessions: dict[int, dict[str, str]] = field(default_factory=dict)
    load_ended: float | None = None  # time.monotonic() of the deadline load's last confirmed submit

    def partner(self, n: int) -> tuple[str, int]:
        made = self.scratch.partners[n]
        return made["email"], made["project_id"]

    def browser(self, n: int, recorder: Recorder) -> Browser:
        """Partner n's browser, signed in through the form the first time."""
        browser = Browser(self.server.port, recorder)
        if n in self.sessions:
            browser.cookies = dict(self.sessions[n])
        else:
            partner.sign_in_ok(browser, self.partner(n)[0], PASSWORD)
            self.sessions[n] = dict(browser.cookies)
        return browser


def _run_all(jobs: list[Callable[[], None]], threads: int) -> list[str]:
    """Run the jobs at once (up to `threads`); the errors they raised, as text."""
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(job) for job in jobs]:
            try:
                future.result()
            except (StepFailed, ConnectionLost, AssertionError) as error:
                errors.append(str(error))
    return errors


def _record_tally(row: Row, result: checks.Tally) -> None:
    row.lost += result.missing
    row.duplicated += result.duplicated
    row.check(result.half_written == 0, f"{result.half_written} half-written return(s)")
    row.check(result.unsubmitted == 0, f"{result.unsubmitted} return(s) not submitted")
    for problem in result.problems or []:
        row.notes.append(problem)


# -- 1. deadline load --------------------------------------------------------------------------------------------


# The deadline load's bounds. Latency: the load's p95 against /healthz's p95 sampled in the same run, so a slow
# machine moves both; every request waits in the same queue for one of the sync workers, so what the ratio shows is
# a request's own work (argon2 at sign-in, the submit's writes) against the plainest request's. Memory: each sync
# worker hashes one password at a time (argon2id, ARGON2_MEMORY_COST = 64 MiB) on top of the app it has loaded.
P95_OVER_HEALTHZ = 8.0
WORKER_RSS_BUDGET = 256 * MIB


class Watcher(Protocol):
    """Something run alongside the load that is told of each submit confirmed to its browser (the backup)."""

    def submitted(self, project_id: int) -> None: ...


def deadline_load(context: Context, partners: int, alongside: Watcher | None = None) -> Row:
    """N partners at once: sign in through the form, save outputs, spend and narrative (with an htmx autosave),
    submit; then every return checked in the database, with its one mail to the CSU in the outbox. The workers'
    RSS and /healthz are sampled throughout."""
    row = Row(f"1 deadline load ({partners} partners)", context.scratch.kind)
    confirmed: set[int] = set()
    quarter = 1

    def one(n: int) -> None:
        _email, project_id = context.partner(n)
        time.sleep(random.uniform(0, 2))  # arriving within two seconds of each other
        browser = context.browser(n, row.recorder)
        partner.fill_return(browser, project_id, quarter, n)
        data = partner.check_form(browser, project_id, quarter)
        response = partner.submit(browser, project_id, quarter, data)
        partner.expect(browser.get(response.location), (200,), "submitted page")
        confirmed.add(project_id)
        context.load_ended = max(context.load_ended or 0.0, time.monotonic())
        if alongside is not None:
            alongside.submitted(project_id)

    beside: AbstractContextManager = alongside if isinstance(alongside, AbstractContextManager) else nullcontext()
    with Memory(context.server) as memory, Health(context.server) as health, beside:
        errors = _run_all([partial(one, n) for n in range(partners)], threads=partners)
    row.check(not errors, f"{len(errors)} partner(s) failed: {errors[:3]}")
    expected = {context.partner(n)[1]: n for n in range(partners)}
    result = checks.tally(context.scratch, quarter, expected, confirmed)
    _record_tally(row, result)
    row.check(result.submitted == partners, f"{result.submitted}/{partners} submitted in the database")
    mails = checks.submit_mails(context.scratch, quarter, list(range(partners)))
    officers = checks.officers(context.scratch)
    row.check(
        all(count == officers for count in mails.values()),
        f"mails per return to the {officers} CSU officers: {sorted(set(mails.values()))}",
    )
    row.check(row.recorder.server_errors == 0, f"{row.recorder.server_errors} responses >= 500")
    row.check(row.recorder.lost_connections == 0, f"{row.recorder.lost_connections} connections without an answer")
    row.notes.append(
        f"{len(confirmed)}/{partners} submits confirmed to the browser; {result.submitted} in the database; "
        f"outbox: {sum(mails.values())} 'return submitted' mails ({officers} CSU officers)"
    )
    _bounds(row, health, memory)
    _locked_in_log(row, context.server)
    return row


def _bounds(row: Row, health: Health, memory: Memory) -> None:
    load, plain = row.recorder.percentile(0.95), health.recorder.percentile(0.95)
    ratio = load / plain if load is not None and plain else None
    row.check(ratio is not None and ratio <= P95_OVER_HEALTHZ, f"p95 {ratio and round(ratio, 1)} x /healthz's")
    peak = memory.peak_worker()
    row.check(0 < peak <= WORKER_RSS_BUDGET, f"a worker's RSS reached {mib(peak)} (budget {mib(WORKER_RSS_BUDGET)})")
    row.figures = (
        f"p95 {ratio or 0:.1f}× /healthz's {(plain or 0) * 1000:.0f} ms (≤ {P95_OVER_HEALTHZ:g}×); "
        f"peak worker RSS {mib(peak)}, all workers {mib(memory.peak_total())} (≤ {mib(WORKER_RSS_BUDGET)} each)"
    )


def _locked_in_log(row: Row, server: Gunicorn) -> None:
    log = server.log_text()
    row.check("database is locked" not in log, "'database is locked' in the gunicorn log")
    row.check("WORKER TIMEOUT" not in log, "WORKER TIMEOUT in the gunicorn log")


# -- 2. kill -9 mid-submit ---------------------------------------------------------------------------------------


class Killer:
    """Kills, with SIGKILL, the worker serving a request just sent, after a random moment (so the kill lands
    anywhere from before the transaction to after the commit)."""

    def __init__(self, server: Gunicorn, kills: int):
        self.server = server
        self.left = kills
        self.made = 0
        self.interrupted = 0
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def on_sent(self, client_port: int) -> None:
        time.sleep(random.uniform(0.0, 0.06))
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            pid = self.server.worker_serving(client_port)
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)  # a worker of the gunicorn this harness started
                except ProcessLookupError:
                    break
                with self.lock:
                    self.made += 1
                return
            time.sleep(0.005)
        with self.lock:  # answered before its worker was found: a later submit gets this kill
            self.left += 1


def kill_mid_submit(context: Context, returns: int, kills: int) -> Row:
    """Returns filled in, then submitted while, K times, the worker serving a submit is killed with SIGKILL (the
    master starts another). The browser sends the same form again (same submission key) after a dropped
    connection. Then: integrity_check, and every return all-or-nothing with exactly one revision."""
    row = Row(f"2 kill -9 mid-submit ({kills} kills)", context.scratch.kind)
    killer = Killer(context.server, kills)
    quarter = 2
    confirmed: set[int] = set()
    retried: list[int] = []
    browsers: dict[int, Browser] = {}
    forms: dict[int, dict[str, str]] = {}

    def prepare(n: int) -> None:
        _email, project_id = context.partner(n)
        browser = browsers[n] = context.browser(n, row.recorder)
        partner.fill_return(browser, project_id, quarter, n, retried)
        forms[n] = partner.check_form(browser, project_id, quarter, retried)

    errors = _run_all([partial(prepare, n) for n in range(returns)], threads=8)
    row.check(not errors, f"{len(errors)} partner(s) could not fill in their return: {errors[:3]}")

    def send(n: int) -> None:
        _email, project_id = context.partner(n)
        hook = killer.on_sent if killer.take() else None
        first = [True]

        def on_sent(port: int) -> None:  # only the first attempt is killed; the retry must get through
            if hook is not None and first[0]:
                first[0] = False
                hook(port)

        again: list[int] = []
        partner.submit(browsers[n], project_id, quarter, forms[n], again, on_sent=on_sent)
        if again:
            with killer.lock:
                killer.interrupted += 1
                retried.extend(again)
        confirmed.add(project_id)

    ready = [n for n in range(returns) if n in forms]
    errors = _run_all([partial(send, n) for n in ready], threads=4)
    row.check(not errors, f"{len(errors)} submit(s) failed after retries: {errors[:3]}")
    context.server.wait_ready()
    found = checks.integrity(context.scratch)
    row.check(found in ("ok", "n/a"), f"integrity_check: {found}")
    expected = {context.partner(n)[1]: n for n in ready}
    result = checks.tally(context.scratch, quarter, expected, confirmed, drafts_allowed=True)
    _record_tally(row, result)
    row.check(killer.made == kills, f"{killer.made} of {kills} kills made (too few submits left to kill)")
    row.check(row.recorder.server_errors == 0, f"{row.recorder.server_errors} responses >= 500")
    row.notes.append(
        f"{killer.made} workers killed mid-submit, {killer.interrupted} submits lost their connection and were sent "
        f"again with the same key; {result.submitted} submitted, {result.drafts} drafts; integrity_check {found}"
    )
    return row


# -- 3. ten simultaneous submits ---------------------------------------------------------------------------------


def _at_once(sends: Sequence[Callable[[], Response]]) -> list[Response | Exception]:
    """Release every send at the same instant (a barrier), as ten clicks or ten tabs would."""
    barrier = threading.Barrier(len(sends))
    results: list[Response | Exception] = [Exception("not sent")] * len(sends)

    def go(index: int) -> None:
        barrier.wait()
        try:
            results[index] = sends[index]()
        except ConnectionLost as error:
            results[index] = error

    threads = [threading.Thread(target=go, args=(index,)) for index in range(len(sends))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _statuses(results: list[Response | Exception]) -> str:
    counts: dict[str, int] = {}
    for result in results:
        key = str(result.status) if isinstance(result, Response) else "no answer"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{count} x {key}" for key, count in sorted(counts.items()))


def simultaneous_submits(context: Context, copies: int = 10) -> Row:
    """Ten identical submits (one session, one key) on one return; ten tabs (ten keys) on another."""
    row = Row(f"3 {copies} simultaneous submits", context.scratch.kind)
    quarter = 3
    outcomes = []
    for n, tabs in ((0, False), (1, True)):
        _email, project_id = context.partner(n)
        browser = context.browser(n, row.recorder)
        partner.fill_return(browser, project_id, quarter, n)
        if tabs:
            forms = [partner.check_form(browser, project_id, quarter) for _ in range(copies)]
            keys = {form["submission_key"] for form in forms}
            row.check(len(keys) == copies, "the ten tabs did not get ten different keys")
        else:
            forms = [partner.check_form(browser, project_id, quarter)] * copies
        path = f"{partner.return_path(project_id, quarter)}/check"
        results = _at_once([partial(browser.post, path, form) for form in forms])
        answered = [result for result in results if isinstance(result, Response)]
        row.check(len(answered) == copies, f"{copies - len(answered)} submit(s) got no answer")
        row.check(all(r.status in (302, 303, 409) for r in answered), f"unexpected answers: {_statuses(results)}")
        outcomes.append(f"{'ten keys' if tabs else 'one key'}: {_statuses(results)}")
    expected = {context.partner(n)[1]: n for n in (0, 1)}
    result = checks.tally(context.scratch, quarter, expected, set(expected))
    _record_tally(row, result)
    row.check(result.submitted == 2, f"{result.submitted}/2 returns submitted")
    row.check(row.recorder.server_errors == 0, f"{row.recorder.server_errors} responses >= 500")
    row.notes.append("; ".join(outcomes) + f"; revisions per return: 1 expected, {result.duplicated} duplicated")
    return row


# -- 4. the database unavailable and back ------------------------------------------------------------------------


def database_unavailable(context: Context) -> Row:
    """Signed-in pages, a save, an htmx autosave, a sign-in and /healthz while the database cannot be reached:
    each should be answered 503 (the portal's page, not gunicorn's bare 500) within the client's patience; then the
    database comes back and the same requests succeed without restarting gunicorn."""
    row = Row("4 database unavailable and back", context.scratch.kind, expected_5xx=True)
    _email, project_id = context.partner(2)
    quarter = 4
    browser = context.browser(2, row.recorder)
    base = partner.return_path(project_id, quarter)
    page = partner.expect(browser.get(f"{base}/narrative"), (200,), "narrative page")
    form = dict(form_with(page.body, "version")["fields"])
    form.update(progress="typed while the database was away", partner_rag="green")
    htmx = {"HX-Request": "true", "X-CSRFToken": form.get("csrf_token", "")}
    stranger = Browser(context.server.port, row.recorder)
    sign_in_page = partner.expect(stranger.get("/sign-in"), (200,), "sign-in page")
    sign_in_form = dict(form_with(sign_in_page.body, "email")["fields"])
    sign_in_form.update(email=context.partner(5)[0], password=PASSWORD)
    probes: list[tuple[str, Callable[[], Response]]] = [
        ("GET /healthz", lambda: browser.get("/healthz", timeout=20)),
        ("GET /partner/ (signed in)", lambda: browser.get("/partner/", timeout=20)),
        ("GET return overview (signed in)", lambda: browser.get(f"{base}/", timeout=20)),
        ("POST narrative save", lambda: browser.post(f"{base}/narrative", form, timeout=20)),
        ("POST htmx autosave", lambda: browser.post(f"{base}/narrative", form, headers=htmx, timeout=20)),
        ("POST /sign-in", lambda: stranger.post("/sign-in", sign_in_form, timeout=20)),
    ]
    how = _make_unavailable(context)
    row.notes.append(f"made unavailable by: {how}")
    down = _probe(probes)
    _restore(context)
    up = _probe(probes)
    for name, status, seconds in down:
        row.check(status == 503, f"down: {name} answered {status} (503 expected)")
        row.notes.append(f"down: {name} -> {status} in {seconds:.1f} s")
    for name, status, _seconds in up:
        row.check(isinstance(status, int) and status < 500, f"back: {name} answered {status}")
    row.notes.append("back: " + ", ".join(f"{name} -> {status}" for name, status, _ in up))
    rows, _values = checks.returns_in(context.scratch, quarter)
    saved = rows.get(project_id)
    # Every button save is audited; an autosave within AUTOSAVE_AUDIT_MINUTES of the last event is not (coalesced).
    row.check(
        saved is not None and 1 <= saved["saved_events"] <= saved["version"], "the draft's version and audit disagree"
    )
    return row


def _probe(probes: list[tuple[str, Callable[[], Response]]]) -> list[tuple[str, int | str, float]]:
    found: list[tuple[str, int | str, float]] = []
    for name, send in probes:
        started = time.perf_counter()
        try:
            found.append((name, send().status, time.perf_counter() - started))
        except ConnectionLost as error:
            found.append((name, f"no answer ({error})", time.perf_counter() - started))
    return found


def _admin(context: Context) -> sa.Engine:
    assert context.scratch.admin_url is not None
    return sa.create_engine(context.scratch.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _make_unavailable(context: Context) -> str:
    scratch = context.scratch
    if scratch.kind == "postgresql":
        engine = _admin(context)
        with engine.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{scratch.name}" ALLOW_CONNECTIONS false')
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %(name)s "
                "AND pid <> pg_backend_pid()",
                {"name": scratch.name},
            )
        engine.dispose()
        return "ALTER DATABASE ... ALLOW_CONNECTIONS false and pg_terminate_backend of its connections"
    # SQLite as root: permissions stop nothing, and a running worker's pooled connection keeps the moved file open.
    # So the file and its -wal/-shm are moved aside and a directory put at its path, and the workers recycled
    # (SIGHUP), so every connection is opened afresh: a volume that is gone, as a starting worker would find it.
    path = scratch.sqlite_path
    aside = scratch.folder / "aside"
    aside.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            shutil.move(str(source), str(aside / source.name))
    path.mkdir()
    context.server.reload_workers()
    return "database file and its -wal/-shm moved aside, a directory at its path, workers recycled by SIGHUP"


def _restore(context: Context) -> None:
    scratch = context.scratch
    if scratch.kind == "postgresql":
        engine = _admin(context)
        with engine.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{scratch.name}" ALLOW_CONNECTIONS true')
        engine.dispose()
        return
    path = scratch.sqlite_path
    path.rmdir()
    for moved in (scratch.folder / "aside").iterdir():
        shutil.move(str(moved), str(path.with_name(moved.name)))


# -- 5. two app instances on one database ------------------------------------------------------------------------


def two_instances(context: Context, second: Gunicorn) -> Row:
    """Two gunicorn masters (A and B) with one SECRET_KEY on one database: a session made on A works on B; signing
    out on A ends it on B; the per-account throttle counts failures on both; one submission key sent to both at
    once makes one revision."""
    row = Row("5 two instances, one database", context.scratch.kind)
    a, b = context.server.port, second.port
    email, _ = context.partner(3)
    on_a = Browser(a, row.recorder)
    partner.sign_in_ok(on_a, email, PASSWORD)
    row.check(on_a.on(b).get("/partner/").status == 200, "a session made on A is not accepted on B")
    copied = dict(on_a.cookies)
    home = partner.expect(on_a.get("/partner/"), (200,), "home on A")
    sign_out = next((form for form in forms_of(home.body) if form["action"].endswith("/sign-out")), None)
    row.check(sign_out is not None, "no sign-out form on the home page")
    if sign_out is not None:
        partner.expect(on_a.post("/sign-out", dict(sign_out["fields"])), (302, 303), "sign out on A")
        replay = Browser(b, row.recorder)
        replay.cookies = copied
        answer = replay.get("/partner/")
        row.check(answer.status in (302, 303) and "/sign-in" in answer.location, "signed out on A, still in on B")
        row.notes.append(f"old cookie on B after sign-out on A: {answer.status} to {answer.location}")
    _throttle_across(row, context, a, b)
    _one_key_to_both(row, context, a, b)
    row.check(row.recorder.server_errors == 0, f"{row.recorder.server_errors} responses >= 500")
    return row


def _throttle_across(row: Row, context: Context, a: int, b: int) -> None:
    email, _ = context.partner(6)
    statuses = []
    for attempt in range(11):
        browser = Browser(a if attempt % 2 == 0 else b, row.recorder)
        statuses.append(partner.sign_in(browser, email, "not the password " + str(attempt)).status)
    row.check(all(status == 422 for status in statuses[:10]), f"the first ten failures answered {statuses[:10]}")
    row.check(statuses[10] == 429, f"the 11th failure (on A and B alternately) answered {statuses[10]}, not 429")
    row.notes.append(f"sign-in failures alternating A/B: {statuses}")


def _one_key_to_both(row: Row, context: Context, a: int, b: int, copies: int = 5) -> None:
    _email, project_id = context.partner(4)
    quarter = 4
    browser = context.browser(4, row.recorder)
    partner.fill_return(browser, project_id, quarter, 4)
    form = partner.check_form(browser, project_id, quarter)
    path = f"{partner.return_path(project_id, quarter)}/check"
    sends = [partial(browser.on(port).post, path, form) for port in (a, b) * copies]
    results = _at_once(sends)
    row.check(
        all(isinstance(r, Response) and r.status in (302, 303) for r in results), f"answers: {_statuses(results)}"
    )
    result = checks.tally(context.scratch, quarter, {project_id: 4}, {project_id})
    _record_tally(row, result)
    row.check(result.submitted == 1, "the return sent to A and B was not submitted")
    row.notes.append(f"one key sent {copies} times to A and {copies} to B at once: {_statuses(results)}")
