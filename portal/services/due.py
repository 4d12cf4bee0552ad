"""Returns due soon and overdue, across every open year's projects: the CSU's due list and its filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload

from ..calendar import current_start_year, parse_year_label, uk_today
from ..extensions import db
from ..models import FinancialYear, MonitoringReturn, Organisation, Project, ReminderSent, User
from ..models.types import utcnow
from ..models.user import PARTNER, UserRole
from ..models.vocabulary import (
    DUE_SOON,
    DUE_SOON_DAYS,
    DUE_STATES,
    NARRATIVE_FIELDS,
    OVERDUE,
    QUARTERS,
    STATUS_LABELS,
)
from .delivery import ProjectDelivery, arrangements_by_project


@dataclass
class DueItem:
    project: Project
    quarter: int
    due: date
    status: str
    days_overdue: int  # 0 when not yet overdue
    extended: bool = False
    last_reminded: datetime | None = None  # the latest reminder or chase queued for it
    contacts: list[User] = field(default_factory=list)  # the organisation's active partner users

    @property
    def key(self) -> str:
        """How a form names this return: project id and quarter."""
        return f"{self.project.id}-{self.quarter}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0

    @property
    def state(self) -> str:
        return OVERDUE if self.overdue else DUE_SOON

    @property
    def reachable(self) -> bool:
        """Someone can be reminded: the organisation has an active partner user."""
        return bool(self.contacts)


def open_deliveries(now: datetime) -> list[ProjectDelivery]:
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
        # Status and dates only: a year of narratives (thousands of characters a return) stays in the database.
        narratives = [defer(getattr(MonitoringReturn, name)) for name in (*NARRATIVE_FIELDS, "review_comment")]
        query = select(MonitoringReturn).where(MonitoringReturn.project_id.in_(ids)).options(*narratives)
        for found in db.session.scalars(query):
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


def contacts_by_organisation(organisation_ids: set[int]) -> dict[int, list[User]]:
    """Each organisation's active partner users, by e-mail: the people reminded and chased (two queries)."""
    contacts: dict[int, list[User]] = {}
    if organisation_ids:
        for user in db.session.scalars(
            select(User)
            .join(UserRole)
            .where(User.organisation_id.in_(organisation_ids), User.active.is_(True), UserRole.role == PARTNER)
            .order_by(User.email)
        ):
            if user.organisation_id is not None:
                contacts.setdefault(user.organisation_id, []).append(user)
    return contacts


def due_and_overdue(now: datetime | None = None) -> list[DueItem]:
    """Unreported returns past their due date (with any extension), or due within 14 days, and never one
    the CSU marked not required nor one of a closed year; the current year first, then most overdue first."""
    now = now or utcnow()
    today = uk_today(now)
    items = []
    for delivery in open_deliveries(now):
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
    current = current_start_year(now)
    items.sort(
        key=lambda item: (
            item.project.year.start_year != current,
            -item.project.year.start_year,
            -item.days_overdue,
            item.due,
            item.project.organisation.name,
            item.project.name,
        )
    )
    return items


def last_reminded(items: list[DueItem]) -> None:
    """Set each item's latest reminder or chase (one query), and its organisation's contacts (two)."""
    ids = {item.project.id for item in items}
    latest: dict[tuple[int, int], datetime] = {}
    if ids:
        rows = db.session.execute(
            select(ReminderSent.project_id, ReminderSent.quarter, func.max(ReminderSent.sent_at))
            .where(ReminderSent.project_id.in_(ids))
            .group_by(ReminderSent.project_id, ReminderSent.quarter)
        )
        latest = {(project_id, quarter): at for project_id, quarter, at in rows}
    contacts = contacts_by_organisation({item.project.organisation_id for item in items})
    for item in items:
        item.last_reminded = latest.get((item.project.id, item.quarter))
        item.contacts = contacts.get(item.project.organisation_id, [])


@dataclass(frozen=True)
class DueQuery:
    """The due list's filters, read from the URL; an unknown value is ignored rather than refused."""

    year: str = ""  # a year label, or every open year
    organisation: str = ""  # an organisation's short name
    state: str = ""  # OVERDUE, DUE_SOON or both

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DueQuery:
        year = args.get("year", "")
        state = args.get("state", "")
        return cls(
            year=year if parse_year_label(year) is not None else "",
            organisation=args.get("organisation", "").strip()[:50],
            state=state if state in DUE_STATES else "",
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.year or self.organisation or self.state)

    def apply(self, items: list[DueItem]) -> list[DueItem]:
        return [
            item
            for item in items
            if (not self.year or item.project.year.label == self.year)
            and (not self.organisation or item.project.organisation.short_name == self.organisation)
            and (not self.state or item.state == self.state)
        ]


def filter_choices(items: list[DueItem]) -> tuple[list[str], list[Organisation]]:
    """The years and organisations the unfiltered list holds, for the filter's drop-downs."""
    years = sorted({item.project.year.label for item in items}, reverse=True)
    organisations = sorted({item.project.organisation for item in items}, key=lambda org: org.name)
    return years, organisations
