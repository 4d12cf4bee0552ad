"""Each project's row of the CSU overview (models/summary.py), kept in the same transaction as every write that
changes one, and computed only by services/delivery.py: the one definition of the figures.

How it stays in step: a session hook notes, after each flush, the projects whose new, changed or deleted objects
bear on the overview (a project's set-up, its measures, returns and their figures once reported, payments,
variations, ratings, due-date arrangements, its year's due days); just before the transaction commits, those
projects' rows are computed again and flushed with it. On PostgreSQL the projects are locked first (FOR NO KEY
UPDATE) and read afresh, so two transactions writing to one project compute its row one after the other and the
last to commit sees both.

What hangs on today's date (a quarter opening, a return falling overdue, and with them the targets and the spend
profile to date) changes only at UK midnights. Each row records the next instant at which it could change
(`stale_after`); a page reading the summaries first computes again the rows of the year that have passed it
(`stale_project_ids`, `refresh_summaries`), so no row is read stale and no timer is needed. `flask summaries
rebuild` computes every row afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import event, inspect, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..calendar import end_of_uk_day
from ..database import sqlite_begin_mode
from ..extensions import db
from ..models import (
    AwardVariation,
    CsuRating,
    FinancialYear,
    MeasureValue,
    MonitoringReturn,
    OutputMeasure,
    Payment,
    Project,
    ProjectSummary,
    ReturnArrangement,
)
from ..models.types import utcnow
from ..models.vocabulary import QUARTERS
from .delivery import ProjectDelivery, year_delivery

NOTED = "project_summaries_to_refresh"
log = logging.getLogger(__name__)
CHUNK = 500  # projects computed at a time: bounded memory and IN lists on a national year
ONE_MICROSECOND = timedelta(microseconds=1)

# Objects whose every change bears on their project's row.
BY_PROJECT_ID = (Project, OutputMeasure, CsuRating, ReturnArrangement, Payment, AwardVariation)
# A return's columns that the overview reads; its narrative answers do not count.
RETURN_FIGURES = ("status", "spend_pence", "partner_rag", "project_id", "quarter")
YEAR_DATES = ("start_year", "return_due_days")


@dataclass
class _Noted:
    projects: set[int] = field(default_factory=set)
    returns: set[int] = field(default_factory=set)  # measure values' returns, whose project is looked up
    years: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.projects or self.returns or self.years)


# -- computing rows -------------------------------------------------------------------------------


def _start_of_uk_day(day) -> datetime:
    return end_of_uk_day(day - timedelta(days=1)) + ONE_MICROSECOND


def next_change(delivery: ProjectDelivery, now: datetime) -> datetime | None:
    """The first instant after `now` at which a figure of the row could change with the date alone: a quarter
    opening (its first UK day begins) or a return falling due (the day after its due date begins)."""
    instants = []
    for quarter in QUARTERS:
        instants.append(_start_of_uk_day(delivery.project.year.quarter(quarter).start))
        instants.append(delivery.quarter(quarter).due_deadline + ONE_MICROSECOND)
    return min((instant for instant in instants if instant > now), default=None)


def _write(summary: ProjectSummary, delivery: ProjectDelivery, now: datetime) -> None:
    """The row as the overview shows it, read from the one definition (services/delivery.py)."""
    summary.year_id = delivery.project.year_id
    summary.award_pence = delivery.project.amount_pence
    summary.paid_pence = delivery.paid_pence
    summary.reported_spend_pence = delivery.reported_spend_pence
    summary.spend_pct_of_award = delivery.spend_pct_of_award
    summary.spend_pct_of_profile = delivery.spend_pct_of_profile
    summary.delivery_pct = delivery.delivery_pct
    summary.delivery_rag = delivery.delivery_rag
    summary.spend_rag = delivery.spend_rag
    summary.partner_rag = delivery.partner_rag
    summary.csu_rag = delivery.csu_rag
    for quarter in QUARTERS:
        setattr(summary, f"q{quarter}_status", delivery.status(quarter))
        setattr(summary, f"q{quarter}_reported", delivery.is_reported(quarter))
        setattr(summary, f"q{quarter}_open", delivery.is_open(quarter))
        setattr(summary, f"q{quarter}_overdue", delivery.is_overdue(quarter))
        setattr(summary, f"q{quarter}_not_required", delivery.is_not_required(quarter))
    summary.computed_at = now
    summary.stale_after = next_change(delivery, now)


def _lock(project_ids: list[int]) -> None:
    """PostgreSQL: hold the projects (in id order) until commit, so one project's row is computed by one
    transaction at a time. NO KEY UPDATE leaves inserts that refer to the project (a payment) unblocked.
    SQLite: a writer already holds the database's write lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            select(Project.id).where(Project.id.in_(project_ids)).order_by(Project.id).with_for_update(key_share=True)
        ).all()


def refresh_summaries(project_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Compute the given projects' rows afresh and flush them; a project that no longer exists loses its row.
    Returns the number of rows written."""
    ids = sorted(set(project_ids))
    if not ids:
        return 0
    now = now or utcnow()
    written = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        _lock(chunk)
        # Read afresh what this session loaded before the lock: another transaction may have committed since.
        db.session.expire_all()
        existing = {
            summary.project_id: summary
            for summary in db.session.scalars(select(ProjectSummary).where(ProjectSummary.project_id.in_(chunk)))
        }
        by_year: dict[int, list[int]] = {}
        for project_id, year_id in db.session.execute(select(Project.id, Project.year_id).where(Project.id.in_(chunk))):
            by_year.setdefault(year_id, []).append(project_id)
        for year_id, year_ids in by_year.items():
            year = db.session.get_one(FinancialYear, year_id)
            for delivery in year_delivery(year, project_ids=year_ids, now=now):
                summary = existing.pop(delivery.project.id, None)
                if summary is None:
                    summary = ProjectSummary(project_id=delivery.project.id)
                    db.session.add(summary)
                _write(summary, delivery, now)
                written += 1
        for gone in existing.values():
            db.session.delete(gone)
        db.session.flush()
    return written


def stale_project_ids(year: FinancialYear | Iterable[FinancialYear], *, now: datetime | None = None) -> list[int]:
    """The year's (or years') projects whose row is missing, has passed its `stale_after`, or was computed after
    `now`: one query."""
    now = now or utcnow()
    year_ids = [year.id] if isinstance(year, FinancialYear) else [each.id for each in year]
    return list(
        db.session.scalars(
            select(Project.id)
            .outerjoin(ProjectSummary, ProjectSummary.project_id == Project.id)
            .where(
                Project.year_id.in_(year_ids),
                or_(
                    ProjectSummary.project_id.is_(None),
                    ProjectSummary.stale_after <= now,
                    ProjectSummary.computed_at > now,  # a clock set back (or a test's frozen one)
                ),
            )
        )
    )


def refresh_stale(year: FinancialYear | Iterable[FinancialYear], *, now: datetime | None = None) -> bool:
    """Before a page reads a year's (or several years') rows: compute again those missing or past `stale_after`,
    and flush them (the view commits). True when it wrote anything."""
    stale = stale_project_ids(year, now=now)
    if not stale:
        return False
    label = year.label if isinstance(year, FinancialYear) else ", ".join(each.label for each in year)
    # A read that has to write: nothing is written yet, so end the read and begin again holding the write lock
    # (SQLite), lest the write fail on a snapshot another writer has moved past since.
    db.session.rollback()
    sqlite_begin_mode.set("IMMEDIATE")
    try:
        refresh_summaries(stale, now=now)
    except OperationalError:  # the database cannot be written (full, read-only, busy): show the rows as they are
        db.session.rollback()
        log.warning("summary rows of %s left stale: the database could not be written", label, exc_info=True)
        return False
    return True


def rebuild_summaries(*, now: datetime | None = None) -> int:
    """Every project's row computed afresh (`flask summaries rebuild`); rows of projects gone are removed."""
    ids = set(db.session.scalars(select(Project.id))) | set(db.session.scalars(select(ProjectSummary.project_id)))
    return refresh_summaries(ids, now=now)


# -- keeping rows in step with writes -------------------------------------------------------------


def _changed(obj: object, names: Iterable[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _note_return(noted: _Noted, mreturn: MonitoringReturn, *, new_or_deleted: bool) -> None:
    """A draft's figures count nowhere: a return bears on the row when it is added or removed, when its
    status changes, or when a reported one's figures do."""
    if new_or_deleted or (
        _changed(mreturn, RETURN_FIGURES) and (mreturn.is_reported or _changed(mreturn, ("status",)))
    ):
        noted.projects.add(mreturn.project_id)


def _note_value(session: Session, noted: _Noted, value: MeasureValue) -> None:
    """A measure's figure bears on the row once its return is reported; the return is looked up later when
    this session does not hold it."""
    mreturn = session.identity_map.get(Session.identity_key(MonitoringReturn, value.return_id))
    if mreturn is None:
        noted.returns.add(value.return_id)
    elif mreturn.is_reported or _changed(mreturn, ("status",)):
        noted.projects.add(mreturn.project_id)


def _note(session: Session, noted: _Noted, obj: object, *, new_or_deleted: bool) -> None:
    if isinstance(obj, Project):
        if obj not in session.deleted:  # its row goes with it (ON DELETE CASCADE)
            noted.projects.add(obj.id)
    elif isinstance(obj, BY_PROJECT_ID):
        noted.projects.add(obj.project_id)  # type: ignore[union-attr]
    elif isinstance(obj, MonitoringReturn):
        _note_return(noted, obj, new_or_deleted=new_or_deleted)
    elif isinstance(obj, MeasureValue):
        _note_value(session, noted, obj)
    elif isinstance(obj, FinancialYear) and not new_or_deleted and _changed(obj, YEAR_DATES):
        noted.years.add(obj.id)


def _after_flush(session: Session, _flush_context) -> None:
    """Note the projects this flush changed (the session still lists what it flushed, with its history)."""
    noted = _Noted()
    for obj in session.new:
        _note(session, noted, obj, new_or_deleted=True)
    for obj in session.dirty:
        if session.is_modified(obj):
            _note(session, noted, obj, new_or_deleted=False)
    for obj in session.deleted:
        _note(session, noted, obj, new_or_deleted=True)
    if noted:
        pending = session.info.setdefault(NOTED, _Noted())
        pending.projects |= noted.projects
        pending.returns |= noted.returns
        pending.years |= noted.years


def _noted_project_ids(noted: _Noted) -> set[int]:
    ids = set(noted.projects)
    if noted.returns:
        ids |= set(
            db.session.scalars(
                select(MonitoringReturn.project_id).where(
                    MonitoringReturn.id.in_(noted.returns), MonitoringReturn.is_reported
                )
            )
        )
    if noted.years:
        ids |= set(db.session.scalars(select(Project.id).where(Project.year_id.in_(noted.years))))
    return ids


def _before_commit(session: Session) -> None:
    """Compute the noted projects' rows in the transaction that changed them."""
    if session is not db.session():
        return
    session.flush()
    noted = session.info.pop(NOTED, None)
    if noted:
        refresh_summaries(_noted_project_ids(noted))


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    """What a rolled-back transaction changed never happened; a savepoint's rollback keeps the notes (a row
    computed once too often is still right)."""
    if previous_transaction.parent is None:
        session.info.pop(NOTED, None)


LISTENERS = (
    ("after_flush", _after_flush),
    ("before_commit", _before_commit),
    ("after_soft_rollback", _after_soft_rollback),
)


def register(_app: Flask) -> None:
    """Listen on the portal's sessions; the listeners belong to db.session's class, so once is enough."""
    for name, listener in LISTENERS:
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
