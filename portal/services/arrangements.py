"""The CSU's arrangements for a quarter's return: a later due date, or the return not required."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ..calendar import day_text
from ..extensions import db
from ..models import Project, ReturnArrangement, User
from ..models.vocabulary import EXTENDED, NOT_REQUIRED, USUAL
from . import audit


class ArrangementError(Exception):
    """The arrangement cannot change now (its year is closed)."""


def _state(arrangement: ReturnArrangement | None) -> dict[str, str | None]:
    if arrangement is None:
        return {"arrangement": USUAL, "due_on": None, "reason": None}
    due_on = arrangement.due_on.isoformat() if arrangement.due_on else None
    return {"arrangement": arrangement.kind, "due_on": due_on, "reason": arrangement.reason}


def _summary(project: Project, quarter: int, kind: str, due_on: date | None) -> str:
    if kind == EXTENDED and due_on is not None:
        return f"CSU extended the Q{quarter} return of {project.name} to {day_text(due_on)}"
    if kind == NOT_REQUIRED:
        return f"CSU marked the Q{quarter} return of {project.name} not required"
    return f"CSU restored the usual due date of the Q{quarter} return of {project.name}"


def set_arrangement(
    project: Project, quarter: int, kind: str, *, due_on: date | None, reason: str, by: User
) -> ReturnArrangement | None:
    """Extend a quarter's due date, mark its return not required, or (USUAL) remove either; audited.

    The form has checked the date and the reason; the service refuses a closed year. The caller commits.
    """
    if project.year.is_closed:
        raise ArrangementError(f"The {project.year.label} financial year is closed")
    arrangement = db.session.scalar(
        select(ReturnArrangement).where(
            ReturnArrangement.project_id == project.id, ReturnArrangement.quarter == quarter
        )
    )
    before = _state(arrangement)
    if kind == USUAL:
        if arrangement is not None:
            db.session.delete(arrangement)
        arrangement = None
    else:
        if arrangement is None:
            arrangement = ReturnArrangement(project=project, quarter=quarter)
            db.session.add(arrangement)
        arrangement.due_on = due_on if kind == EXTENDED else None
        arrangement.not_required = kind == NOT_REQUIRED
        arrangement.reason = reason
        arrangement.set_by_id = by.id
    db.session.flush()
    after = {**_state(arrangement), "reason": reason}
    audit.record(
        "return_arrangement.set",
        object_type="project",
        object_id=project.id,
        summary=_summary(project, quarter, kind, due_on),
        actor=by,
        organisation_id=project.organisation_id,
        details={"quarter": quarter, "before": before, "after": after},
    )
    return arrangement
