"""Run the reliability harness and print its table; exit status 1 when any check failed.

    .venv/bin/python -m reliability.run [--short] [--database sqlite|postgresql|all]
                                        [--storm-seconds S] [--soak-minutes M]

`--database all` (the default) runs on SQLite, then on PostgreSQL when RELIABILITY_DATABASE_URL or
TEST_DATABASE_URL names a server (a scratch database is created there and dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import faults, scenarios, sustained
from .scenarios import Context, Row
from .servers import Gunicorn, scratch_database


@dataclass(frozen=True)
class Size:
    partners: int
    kill_returns: int
    kills: int
    storm_seconds: float  # --storm-seconds
    autosave_every: float  # seconds between one partner's autosaves in the storm
    soak_minutes: float  # --soak-minutes
    soak_users: int
    csu: int  # CSU officers and finance users reading during the storm (RELIABILITY.md L2: 5 and 2)
    finance: int
    workers: int = 4

    def storm_partners(self) -> tuple[list[int], list[int]]:
        """Partners 8 and up on Q4: the first half type (autosaving), the rest submit."""
        later = list(range(8, self.partners))
        return later[: len(later) // 2], later[len(later) // 2 :]

    def staff(self, made: list[dict]) -> list[dict]:
        csu = [person for person in made if person["role"] == "csu"][: self.csu]
        return csu + [person for person in made if person["role"] == "finance"][: self.finance]


FULL = Size(80, 60, 30, storm_seconds=60, autosave_every=3, soak_minutes=2, soak_users=10, csu=5, finance=2)
SHORT = Size(20, 8, 4, storm_seconds=6, autosave_every=1, soak_minutes=0.15, soak_users=4, csu=1, finance=1)


def server_url() -> str | None:
    return os.environ.get("RELIABILITY_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or None


def _guarded(name: str, kind: str, run: Callable[[], Row]) -> Row:
    """A scenario that raised is a failed row, with the reason, and the others still run."""
    started = time.monotonic()
    try:
        row = run()
    except Exception as error:  # the table must still be printed
        row = Row(name, kind)
        row.fail(f"the scenario stopped: {error.__class__.__name__}: {error}")
        row.notes.append(traceback.format_exc(limit=3).strip().splitlines()[-1])
    row.notes.append(f"took {time.monotonic() - started:.0f} s")
    return row


def run_on(kind: str, size: Size) -> list[Row]:
    started = time.monotonic()
    scratch = scratch_database(kind, server_url())
    servers: list[Gunicorn] = []
    try:
        scratch.populate(max(size.partners, size.kill_returns, 8))
        print(f"{kind}: data made in {time.monotonic() - started:.0f} s", file=sys.stderr)
        server = Gunicorn(scratch, size.workers, "a").start()
        servers.append(server)
        context = Context(scratch, server, size.workers)
        backup = faults.BackupDuringLoad(context, after=max(1, size.partners // 4))
        typing, submitting = size.storm_partners()
        rows = [
            _guarded("1 deadline load", kind, lambda: scenarios.deadline_load(context, size.partners, backup)),
            _guarded("6 backup", kind, lambda: faults.backup_restored(context, backup, context.load_ended)),
            _guarded(
                "2 kill -9 mid-submit", kind, lambda: scenarios.kill_mid_submit(context, size.kill_returns, size.kills)
            ),
            _guarded("3 simultaneous submits", kind, lambda: scenarios.simultaneous_submits(context)),
            _guarded("7 lock held", kind, lambda: faults.lock_during_submit(context)),
            _guarded(
                "8 autosave storm",
                kind,
                lambda: sustained.autosave_storm(
                    context, typing, submitting, size.staff(scratch.staff), size.storm_seconds, size.autosave_every
                ),
            ),
            _guarded("9 soak", kind, lambda: sustained.soak(context, typing[: size.soak_users], size.soak_minutes)),
            # Last but one: on SQLite it recycles the workers.
            _guarded("4 database unavailable", kind, lambda: scenarios.database_unavailable(context)),
        ]
        second = Gunicorn(scratch, 2, "b").start()
        servers.append(second)
        rows.append(_guarded("5 two instances", kind, lambda: scenarios.two_instances(context, second)))
        print(f"{kind}: {time.monotonic() - started:.0f} s; logs in {scratch.folder}", file=sys.stderr)
        return sorted(rows, key=lambda row: int(row.scenario.split()[0]))
    finally:
        for server in servers:
            server.stop()
        if not os.environ.get("RELIABILITY_KEEP"):
            scratch.drop()


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def table(rows: list[Row]) -> str:
    header = ("scenario", "database", "requests", "5xx", "lost", "duplicated", "p50 ms", "p95 ms", "measured", "result")
    lines = [header]
    for row in rows:
        recorder = row.recorder
        errors = str(recorder.server_errors) + (" (503 expected)" if row.expected_5xx else "")
        lines.append(
            (
                row.scenario,
                row.database,
                str(len(recorder.statuses)),
                errors,
                str(row.lost),
                str(row.duplicated),
                _ms(recorder.percentile(0.50)),
                _ms(recorder.percentile(0.95)),
                row.figures or "-",
                "pass" if row.passed else "FAIL",
            )
        )
    out = ["| " + " | ".join(line) + " |" for line in lines]
    out.insert(1, "|" + "|".join("---" for _ in header) + "|")
    return "\n".join(out)


def details(rows: list[Row]) -> str:
    out = []
    for row in rows:
        out.append(f"- {row.scenario} on {row.database}: " + ("pass" if row.passed else "FAIL"))
        out.extend(f"    FAILED: {failure}" for failure in row.failures)
        out.extend(f"    {note}" for note in row.notes)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the short version CI runs (about 20 partners)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--storm-seconds", type=float, help="how long the autosave storm lasts (full 60, short 6)")
    parser.add_argument("--soak-minutes", type=float, help="how long the soak lasts (full 2, short 0.15)")
    arguments = parser.parse_args(argv)
    size = SHORT if arguments.short else FULL
    if arguments.storm_seconds is not None:
        size = replace(size, storm_seconds=arguments.storm_seconds)
    if arguments.soak_minutes is not None:
        size = replace(size, soak_minutes=arguments.soak_minutes)
    kinds = ["sqlite", "postgresql"] if arguments.database == "all" else [arguments.database]
    if arguments.database == "all" and not server_url():
        kinds = ["sqlite"]
        print("No RELIABILITY_DATABASE_URL or TEST_DATABASE_URL: PostgreSQL skipped", file=sys.stderr)
    rows: list[Row] = []
    for kind in kinds:
        rows.extend(run_on(kind, size))
    print(details(rows))
    print()
    print(table(rows))
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
