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
from ..models.vocabulary import QUARTERS, STATUS_LABELS
from .delivery import ProjectDelivery, arrangements_by_project

DUE_SOON_DAYS = 14


@dataclass
class DueItem:
    project: Project
    quarter: int
    due: date
    status: str
    days_overdue: int  # 0 when not yet overdue
    extended: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


def _deliveries(now: datetime) -> list[ProjectDelivery]:
    """Every open year's projects with their returns and the CSU's arrangements: three queries."""
    projects = list(
        db.session.scalars(
            select(Project)
            .join(Project.year)
            .where(~FinancialYear.is_closed, FinancialYear.start_year <= uk_today(now).year)
            .options(joinedload(Project.organisation), joinedload(Project.year))
        )
    )
    ids = [project.id for project in projects]
    returns: dict[int, dict[int, MonitoringReturn]] = {}
    if ids:
        for found in db.session.scalars(select(MonitoringReturn).where(MonitoringReturn.project_id.in_(ids))):
            returns.setdefault(found.project_id, {})[found.quarter] = found
    arrangements = arrangements_by_project(ids)
    return [
        ProjectDelivery(
            project=project,
            returns=returns.get(project.id, {}),
            measures=[],
            arrangements=arrangements.get(project.id, {}),
            now=now,
        )
        for project in projects
    ]


def due_and_overdue(now: datetime | None = None) -> list[DueItem]:
    """Unreported returns past their due date (with any extension), or due within 14 days, and never one
    the CSU marked not required; most overdue first."""
    now = now or utcnow()
    today = uk_today(now)
    items = []
    for delivery in _deliveries(now):
        for number in QUARTERS:
            if not delivery.is_open(number) or delivery.is_reported(number) or delivery.is_not_required(number):
                continue
            due = delivery.quarter(number).due
            if delivery.is_overdue(number):
                days = (today - due).days
            elif due <= today + timedelta(days=DUE_SOON_DAYS):
                days = 0
            else:
                continue
            status = delivery.status(number)
            items.append(DueItem(delivery.project, number, due, status, days, extended=delivery.is_extended(number)))
    items.sort(key=lambda item: (-item.days_overdue, item.due, item.project.organisation.name, item.project.name))
    return items
