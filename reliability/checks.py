"""What the database holds after a scenario, read with the harness's own connection (never through the app).

A return is whole when it is either a draft with no revision and no "submitted" audit event, or submitted with
exactly one revision and one "submitted" audit event; and in both cases its version equals the audit events
recorded for it (every save and the submit bump the version and write one event in the same transaction), so a
change written without its audit event, or the reverse, shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text

from .partner import answers
from .servers import Scratch

RETURNS = text(
    """
    SELECT r.project_id, r.id, r.status, r.version, r.spend_pence, r.progress,
      (SELECT count(*) FROM return_revision v WHERE v.return_id = r.id) AS revisions,
      (SELECT count(*) FROM audit_event a WHERE a.object_type = 'monitoring_return' AND a.object_id = r.id
         AND a.action = 'monitoring_return.submitted') AS submitted_events,
      (SELECT count(*) FROM audit_event a WHERE a.object_type = 'monitoring_return' AND a.object_id = r.id
         AND a.action = 'monitoring_return.saved') AS saved_events
    FROM monitoring_return r WHERE r.quarter = :quarter
    """
)
VALUES = text(
    "SELECT v.return_id, v.value FROM measure_value v JOIN monitoring_return r ON r.id = v.return_id "
    "WHERE r.quarter = :quarter ORDER BY v.measure_id"
)


@dataclass
class Tally:
    """The database's verdict on a set of returns that should all have been submitted (or, after kills, may
    still be drafts)."""

    submitted: int = 0
    drafts: int = 0
    missing: int = 0  # lost: a submit confirmed to the browser, but no submitted return in the database
    unsubmitted: int = 0  # never confirmed to the browser and not submitted (the browser saw the failure)
    duplicated: int = 0  # more than one revision or "submitted" event
    half_written: int = 0  # version and audit trail disagree, or answers other than those sent
    problems: list[str] | None = None

    def note(self, message: str) -> None:
        if self.problems is None:
            self.problems = []
        if len(self.problems) < 8:
            self.problems.append(message)


def returns_in(scratch: Scratch, quarter: int) -> tuple[dict[int, dict], dict[int, list[Decimal]]]:
    engine = scratch.engine()
    with engine.connect() as connection:
        rows = {row.project_id: row._asdict() for row in connection.execute(RETURNS, {"quarter": quarter})}
        values: dict[int, list[Decimal]] = {}
        for return_id, value in connection.execute(VALUES, {"quarter": quarter}):
            values.setdefault(return_id, []).append(Decimal(value) if value is not None else Decimal(-1))
    engine.dispose()
    return rows, values


def tally(
    scratch: Scratch,
    quarter: int,
    expected: dict[int, int],
    confirmed: set[int],
    *,
    drafts_allowed: bool = False,
    check_answers: bool = True,
    event_per_save: bool = True,
) -> Tally:
    """`expected`: project id -> partner number (whose answers were sent); `confirmed`: project ids whose
    submit the browser saw succeed. `event_per_save=False` leaves out the version-equals-audit-events check (the
    portal may write one "saved" event for a run of autosaves); the submitted event is still counted exactly."""
    rows, values = returns_in(scratch, quarter)
    result = Tally()
    for project_id, n in expected.items():
        row = rows.get(project_id)
        if row is None:
            if project_id in confirmed:
                result.missing += 1
            else:
                result.unsubmitted += 1
            result.note(f"project {project_id}: no return")
            continue
        events = row["submitted_events"] + row["saved_events"]
        if row["revisions"] > 1 or row["submitted_events"] > 1:
            result.duplicated += 1
            result.note(f"project {project_id}: {row['revisions']} revisions, {row['submitted_events']} submitted")
        if row["status"] == "submitted" and row["revisions"] >= 1 and row["submitted_events"] >= 1:
            result.submitted += 1
        elif row["status"] == "draft" and row["revisions"] == 0 and row["submitted_events"] == 0:
            result.drafts += 1
            if project_id in confirmed:
                result.missing += 1
            elif not drafts_allowed:
                result.unsubmitted += 1
            if project_id in confirmed or not drafts_allowed:
                result.note(f"project {project_id}: still a draft")
        else:
            result.half_written += 1
            result.note(f"project {project_id}: {row['status']} with {row['revisions']} revisions")
        if event_per_save and row["version"] != events:
            result.half_written += 1
            result.note(f"project {project_id}: version {row['version']} but {events} audit events")
        if check_answers and row["status"] == "submitted" and not _as_sent(row, values.get(row["id"], []), n):
            result.half_written += 1
            result.note(f"project {project_id}: answers differ from those sent")
    return result


def _as_sent(row: dict, values: list[Decimal], n: int) -> bool:
    mine = answers(n)
    outputs = [Decimal(value) for value in mine["outputs"]]  # type: ignore[attr-defined]
    return row["spend_pence"] == mine["spend_pence"] and row["progress"] == mine["progress"] and values == outputs


def integrity(scratch: Scratch) -> str:
    """SQLite's PRAGMA integrity_check ("ok"); PostgreSQL has no equivalent to run here: "n/a"."""
    if scratch.kind != "sqlite":
        return "n/a"
    engine = scratch.engine()
    with engine.connect() as connection:
        found = ", ".join(str(row[0]) for row in connection.exec_driver_sql("PRAGMA integrity_check"))
    engine.dispose()
    return found


SUBMIT_MAILS = text("SELECT subject FROM outbox_message WHERE kind = 'return_submitted'")


def submit_mails(scratch: Scratch, quarter: int, numbers: list[int]) -> dict[int, int]:
    """Partner number -> how many "return submitted" mails to the CSU are in the outbox for its return this
    quarter (the subject is the portal's notice headline, which names the organisation, quarter and project). One
    for each CSU officer is right: see `officers`."""
    engine = scratch.engine()
    with engine.connect() as connection:
        subjects = [row[0] for row in connection.execute(SUBMIT_MAILS)]
    engine.dispose()
    wanted = {n: f"R{n:03d} submitted the 2025-26 Q{quarter} return for Reliability project {n:03d}" for n in numbers}
    return {n: sum(1 for subject in subjects if subject == headline) for n, headline in wanted.items()}


def officers(scratch: Scratch) -> int:
    """How many CSU officers were made: each gets one mail per submit (each message, the default)."""
    return sum(1 for person in scratch.staff if person["role"] == "csu")
