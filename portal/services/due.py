"""Returns due soon and overdue, across every open year's projects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..calendar import uk_today
from ..extensions import db
from ..models import FinancialYear, MonitoringReturn, Project
from ..models.types import utcnow
from ..models.vocabulary import NOT_STARTED, STATUS_LABELS
from .delivery import is_reported

DUE_SOON_DAYS = 14


@dataclass
class DueItem:
    project: Project
    quarter: int
    due: date
    status: str
    days_overdue: int  # 0 when not yet overdue

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


def due_and_overdue(now: datetime | None = None) -> list[DueItem]:
    """Unreported returns past their due date, or due within 14 days; most overdue first. Two queries."""
    now = now or utcnow()
    today = uk_today(now)
    projects = list(
        db.session.scalars(
            select(Project)
            .join(Project.year)
            .where(~FinancialYear.is_closed, FinancialYear.start_year <= today.year)
            .options(joinedload(Project.organisation), joinedload(Project.year))
        )
    )
    returns: dict[tuple[int, int], MonitoringReturn] = {}
    if projects:
        for found in db.session.scalars(
            select(MonitoringReturn).where(MonitoringReturn.project_id.in_([p.id for p in projects]))
        ):
            returns[(found.project_id, found.quarter)] = found
    items = []
    for project in projects:
        for quarter in project.year.quarters:
            mreturn = returns.get((project.id, quarter.number))
            if is_reported(mreturn) or not quarter.has_started(today):
                continue
            if quarter.is_overdue(now):
                days = (today - quarter.due).days
            elif quarter.due <= today + timedelta(days=DUE_SOON_DAYS):
                days = 0
            else:
                continue
            items.append(
                DueItem(project, quarter.number, quarter.due, mreturn.status if mreturn else NOT_STARTED, days)
            )
    items.sort(key=lambda item: (-item.days_overdue, item.due, item.project.organisation.name, item.project.name))
    return items
