"""Two faults an operator meets: a backup taken while partners submit (and restored afterwards), and another
writer holding the database's lock for a few seconds while a partner submits (RELIABILITY.md F12 and F1)."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from . import checks, partner
from .client import ConnectionLost
from .scenarios import Context, Row, _record_tally
from .servers import scratch_database

LOCK_SECONDS = 3.0  # under SQLite's busy timeout (15 s) and PostgreSQL's lock timeout (5 s): the submit waits


# -- F12: a backup taken during the deadline load, then restored -------------------------------------------------


class BackupDuringLoad:
    """`flask backup create` in a thread, started once `after` submits have been confirmed to their browsers: the
    returns confirmed by then are in the database before the backup begins, so each must be in the backup."""

    def __init__(self, context: Context, after: int):
        self.context = context
        self.confirmed: set[int] = set()
        self.lock = threading.Lock()
        self.after = after
        self.path = context.scratch.folder / "during-load.backup"
        self.before: set[int] = set()
        self.started: float | None = None
        self.finished: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                if len(self.confirmed) >= self.after:
                    self.before = set(self.confirmed)
                    break
            time.sleep(0.02)
        else:
            return
        self.started = time.monotonic()
        try:
            self.context.scratch.flask("backup", "create", str(self.path))
        except RuntimeError as error:
            self.error = str(error).strip().splitlines()[-1]
        self.finished = time.monotonic()

    def submitted(self, project_id: int) -> None:
        """The load tells of each submit confirmed to its browser."""
        with self.lock:
            self.confirmed.add(project_id)

    def __enter__(self) -> BackupDuringLoad:
        self._thread.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()  # a load that ended before `after` submits: no backup (the row says so)
        self._thread.join()


def backup_restored(context: Context, backup: BackupDuringLoad | None, load_ended: float | None) -> Row:
    """The backup taken during the load, restored with `flask backup restore` into an empty scratch database:
    the restore's own checks pass (row counts equal the manifest's; SQLite's integrity_check), and every return
    confirmed before the backup began is there, submitted once, with the answers sent."""
    kind = context.scratch.kind
    row = Row("6 backup during load, restored", kind)
    if backup is None or backup.started is None or backup.finished is None:
        row.fail("no backup was taken during the load")
        return row
    row.check(backup.error is None, f"flask backup create failed: {backup.error}")
    row.check(load_ended is None or backup.started < load_ended, "the backup began after the load's last submit")
    row.figures = f"backup took {backup.finished - backup.started:.1f} s; {len(backup.before)} returns from before it"
    row.notes.append(
        f"backup began once {len(backup.before)} returns were submitted, took {backup.finished - backup.started:.1f} s"
        + (f", ended {backup.finished - load_ended:+.1f} s from the load's last submit" if load_ended else "")
    )
    if backup.error is not None:
        return row
    target = scratch_database(kind, context.scratch.admin_url)
    try:
        row.notes.append(target.flask("backup", "restore", str(backup.path)).strip())
        found = checks.integrity(target)
        row.check(found in ("ok", "n/a"), f"integrity_check of the restored database: {found}")
        numbers = {context.partner(n)[1]: n for n in range(len(context.scratch.partners))}
        expected = {project_id: numbers[project_id] for project_id in backup.before}
        result = checks.tally(target, 1, expected, backup.before)
        _record_tally(row, result)
        row.check(result.submitted == len(expected), f"{result.submitted}/{len(expected)} returns submitted before it")
    finally:
        target.drop()
    return row


# -- F1: another writer holds the lock for three seconds during a submit -----------------------------------------


def _hold_lock(context: Context, taken: threading.Event, seconds: float) -> None:
    """SQLite: BEGIN IMMEDIATE (the database's one write lock) in a connection of our own. PostgreSQL: LOCK TABLE
    monitoring_return IN EXCLUSIVE MODE (reads go on; the submit's SELECT ... FOR UPDATE of the return waits)."""
    scratch = context.scratch
    if scratch.kind == "sqlite":
        with closing(sqlite3.connect(scratch.sqlite_path, isolation_level=None)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            taken.set()
            time.sleep(seconds)
            connection.execute("COMMIT")
        return
    engine = scratch.engine()
    with engine.connect() as connection, connection.begin():
        connection.execute(sa.text("LOCK TABLE monitoring_return IN EXCLUSIVE MODE"))
        taken.set()
        time.sleep(seconds)
    engine.dispose()


def lock_during_submit(context: Context, n: int = 7, quarter: int = 3) -> Row:
    """A partner submits while another connection holds the write lock for three seconds: the submit waits and
    succeeds (the portal's 503 "busy" page, then the same form again once the lock is gone, would also pass),
    once, with the answers sent."""
    row = Row(f"7 lock held {LOCK_SECONDS:.0f} s during a submit", context.scratch.kind)
    _email, project_id = context.partner(n)
    browser = context.browser(n, row.recorder)
    partner.fill_return(browser, project_id, quarter, n)
    form = partner.check_form(browser, project_id, quarter)
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(context, taken, LOCK_SECONDS))
    holder.start()
    row.check(taken.wait(10), "the harness could not take the lock")
    path = f"{partner.return_path(project_id, quarter)}/check"
    started = time.monotonic()
    try:
        answer = browser.post(path, form)
        waited = time.monotonic() - started
        outcome = f"submit answered {answer.status} after {waited:.1f} s"
        if answer.status == 503:
            row.check("busy" in answer.body, "the 503 is not the portal's busy page")
            holder.join()
            answer = browser.post(path, form)
            outcome += f"; sent again after the lock was released: {answer.status}"
        else:
            row.check(waited >= LOCK_SECONDS * 0.8, f"the submit did not wait for the lock ({waited:.1f} s)")
        row.check(answer.status in (302, 303) and "/submitted/" in answer.location, outcome)
        row.notes.append(outcome)
        row.figures = outcome
    except ConnectionLost as error:
        row.fail(f"the submit got no answer: {error}")
    holder.join()
    result = checks.tally(context.scratch, quarter, {project_id: n}, {project_id})
    _record_tally(row, result)
    row.check(result.submitted == 1, "the return is not submitted")
    row.check(row.recorder.server_errors == row.recorder.statuses.count(503), "a 5xx other than 503")
    return row


def wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0
