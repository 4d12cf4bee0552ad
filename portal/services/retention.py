"""Retention: narrative text is removed from returns, and from their revisions, once it is old enough.

A return's year is old enough when it started more than `RETENTION_YEARS` (default 6) financial years before
the current one: with 2026-27 current and 6 years, 2019-20 and earlier are cleared and 2020-21 is kept (its
text is kept for 6 years after the end of the year it relates to, as the privacy notice says).

Removed (set to NULL): progress, case study, challenges, the reason for the partner's rating and the spend
explanation, in returns and revisions alike, and the CSU's review comment on the return. Kept: every figure
(measure values, spend), the ratings, statuses, dates and the audit trail. Revisions are append-only; the
database allows this one change to them (`revision_guard_ddl` in models/audit.py). Each apply is audited with
counts, never text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Select, func, or_, select, update

from ..calendar import current_start_year, year_label
from ..extensions import db
from ..models import FinancialYear, MonitoringReturn, Project, User
from ..models.audit import REVISION_NARRATIVE_COLUMNS
from ..models.monitoring_return import ReturnRevision
from . import audit

RETURN_NARRATIVE_COLUMNS = (*REVISION_NARRATIVE_COLUMNS, "review_comment")


@dataclass
class RetentionPlan:
    """What retention removes: from the years starting before `keep_from`, how many texts of each kind."""

    keep_from: int  # the start year of the oldest financial year whose text is kept
    returns: int = 0  # returns with text to remove
    revisions: int = 0  # revisions with text to remove
    texts: dict[str, int] = field(default_factory=dict)  # "return progress": how many

    @property
    def keep_from_label(self) -> str:
        return year_label(self.keep_from)

    @property
    def removes_anything(self) -> bool:
        return bool(self.returns or self.revisions)


def keep_from(retention_years: int | None = None) -> int:
    years = current_app.config["RETENTION_YEARS"] if retention_years is None else retention_years
    return current_start_year() - int(years)


def _old_returns(keep: int) -> Select:
    return (
        select(MonitoringReturn.id)
        .join(Project, Project.id == MonitoringReturn.project_id)
        .join(FinancialYear, FinancialYear.id == Project.year_id)
        .where(FinancialYear.start_year < keep)
    )


def _with_text(model, columns: tuple[str, ...]):
    return or_(*(getattr(model, column).is_not(None) for column in columns))


def retention_plan(retention_years: int | None = None) -> RetentionPlan:
    """What `apply_retention` would remove, counted; nothing is changed."""
    keep = keep_from(retention_years)
    old = _old_returns(keep)
    plan = RetentionPlan(keep_from=keep)
    for kind, model, columns, scope in (
        ("return", MonitoringReturn, RETURN_NARRATIVE_COLUMNS, MonitoringReturn.id.in_(old)),
        ("revision", ReturnRevision, REVISION_NARRATIVE_COLUMNS, ReturnRevision.return_id.in_(old)),
    ):
        rows = db.session.scalar(select(func.count()).select_from(model).where(scope, _with_text(model, columns)))
        setattr(plan, f"{kind}s", rows or 0)
        for column in columns:
            found = db.session.scalar(
                select(func.count()).select_from(model).where(scope, getattr(model, column).is_not(None))
            )
            if found:
                plan.texts[f"{kind} {column}"] = found
    return plan


def apply_retention(*, by: User | None = None, retention_years: int | None = None) -> RetentionPlan:
    """Remove the narrative text of returns and revisions older than the retention period; audited with counts."""
    plan = retention_plan(retention_years)
    old = _old_returns(plan.keep_from)
    cleared = dict.fromkeys(RETURN_NARRATIVE_COLUMNS)
    db.session.execute(
        update(MonitoringReturn)
        .where(MonitoringReturn.id.in_(old), _with_text(MonitoringReturn, RETURN_NARRATIVE_COLUMNS))
        # updated_at stays: retention is not an edit of the return
        .values(**cleared, personal_data_found=False, updated_at=MonitoringReturn.updated_at)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(ReturnRevision)
        .where(ReturnRevision.return_id.in_(old), _with_text(ReturnRevision, REVISION_NARRATIVE_COLUMNS))
        .values(**dict.fromkeys(REVISION_NARRATIVE_COLUMNS))
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    audit.record(
        "retention.applied",
        object_type="retention",
        object_id=None,
        summary=(
            f"Removed the narrative text of {plan.returns} returns and {plan.revisions} revisions "
            f"of years before {plan.keep_from_label}"
        ),
        actor=by,
        details={"keep_from": plan.keep_from_label, "returns": plan.returns, "revisions": plan.revisions, **plan.texts},
    )
    db.session.flush()
    return plan
