"""Returns due soon and overdue, across every open year's projects: the CSU's due list and its filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import aliased, defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ..calendar import current_start_year, parse_year_label, uk_today
from ..extensions import db
from ..models import (
    FinancialYear,
    MonitoringReturn,
    Organisation,
    Project,
    ProjectSummary,
    ReminderSent,
    ReturnArrangement,
    User,
)
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
from ..pagination import PageOf, page_number
from .delivery import ProjectDelivery, arrangements_by_project
from .summary import refresh_stale


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


def open_deliveries(now: datetime, project_ids: Iterable[int] | None = None) -> list[ProjectDelivery]:
    """Every open year's projects (or those of them given) with their returns and the CSU's arrangements: three
    queries."""
    wanted = [] if project_ids is None else [Project.id.in_(set(project_ids))]
    projects = list(
        db.session.scalars(
            select(Project)
            .join(Project.year)
            .where(~FinancialYear.is_closed, FinancialYear.start_year <= uk_today(now).year, *wanted)
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


PER_PAGE = 25
ORGANISATION_FILTER_LENGTH = 100


@dataclass(frozen=True)
class DueQuery:
    """The due list's filters and page, read from the URL; an unknown value is ignored rather than refused."""

    year: str = ""  # a year label, or every open year
    organisation: str = ""  # an organisation's short name, or part of its name
    state: str = ""  # OVERDUE, DUE_SOON or both
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DueQuery:
        year = args.get("year", "")
        state = args.get("state", "")
        return cls(
            year=year if parse_year_label(year) is not None else "",
            organisation=args.get("organisation", "").strip()[:ORGANISATION_FILTER_LENGTH],
            state=state if state in DUE_STATES else "",
            page=page_number(args),
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.year or self.organisation or self.state)

    def args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments with some changed; empty ones (and page 1) left out."""
        values = {"year": self.year, "organisation": self.organisation, "state": self.state, "page": self.page}
        values.update(changes)
        if values["page"] == 1:
            values.pop("page")
        return {key: value for key, value in values.items() if value}

    def conditions(self, items) -> list[ColumnElement[bool]]:
        """The filters as SQL over the due items (`_due_items`)."""
        found: list[ColumnElement[bool]] = []
        if self.year:
            found.append(items.c.start_year == parse_year_label(self.year))
        if self.organisation:
            text = self.organisation.lower()
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found.append(
                or_(
                    func.lower(items.c.organisation_short_name) == text,
                    func.lower(items.c.organisation_name).like(f"%{escaped}%", escape="\\"),
                )
            )
        if self.state:
            found.append(items.c.overdue if self.state == OVERDUE else ~items.c.overdue)
        return found


# -- the due list in SQL, from each project's summary row ------------------------------------------


@dataclass(frozen=True)
class _OpenYear:
    """An open year as plain values: what the SQL needs of it, read before any stale row is computed again."""

    id: int
    start_year: int
    label: str
    usual_due: tuple[date, ...]  # each quarter's due date before any extension


def _open_years(now: datetime) -> tuple[list[FinancialYear], list[_OpenYear]]:
    """The years whose returns are listed, open ones that have begun (one query): the years themselves, and what
    the SQL needs of them as plain values (read before any stale summary row is computed again, which ends the
    transaction and expires them)."""
    years = list(
        db.session.scalars(
            select(FinancialYear)
            .where(~FinancialYear.is_closed, FinancialYear.start_year <= uk_today(now).year)
            .order_by(FinancialYear.start_year.desc())
        )
    )
    values = [
        _OpenYear(year.id, year.start_year, year.label, tuple(year.quarter(q).due for q in QUARTERS)) for year in years
    ]
    return years, values


def _due_items(years: list[_OpenYear], now: datetime):
    """Every open year's unreported returns that are overdue or due within DUE_SOON_DAYS, as a subquery with one row
    a return: the quarters of each project's summary row (services/summary.py) side by side, the due date the
    CSU's extension or the year's own. Nothing here is loaded into Python."""
    soon = uk_today(now) + timedelta(days=DUE_SOON_DAYS)
    year_ids = [year.id for year in years]
    selects = []
    for quarter in QUARTERS:
        arrangement = aliased(ReturnArrangement)
        usual = case({year.id: year.usual_due[quarter - 1] for year in years}, value=Project.year_id)
        due = type_coerce(func.coalesce(arrangement.due_on, usual), Date)
        overdue = getattr(ProjectSummary, f"q{quarter}_overdue")
        selects.append(
            select(
                ProjectSummary.project_id.label("project_id"),
                literal(quarter).label("quarter"),
                FinancialYear.start_year.label("start_year"),
                due.label("due"),
                getattr(ProjectSummary, f"q{quarter}_status").label("status"),
                overdue.label("overdue"),
                arrangement.due_on.is_not(None).label("extended"),
                Organisation.short_name.label("organisation_short_name"),
                Organisation.name.label("organisation_name"),
                Project.name.label("project_name"),
            )
            .join(Project, Project.id == ProjectSummary.project_id)
            .join(Organisation, Organisation.id == Project.organisation_id)
            .join(FinancialYear, FinancialYear.id == Project.year_id)
            .outerjoin(arrangement, and_(arrangement.project_id == Project.id, arrangement.quarter == quarter))
            .where(
                Project.year_id.in_(year_ids),
                getattr(ProjectSummary, f"q{quarter}_open"),
                ~getattr(ProjectSummary, f"q{quarter}_reported"),
                ~getattr(ProjectSummary, f"q{quarter}_not_required"),
                or_(overdue, due <= soon),
            )
        )
    return union_all(*selects).subquery("due_item")


def _order(items, now: datetime) -> list[Any]:
    """The current year first, then the latest years, then the most overdue (the earliest due), then by name."""
    return [
        case((items.c.start_year == current_start_year(now), 0), else_=1),
        items.c.start_year.desc(),
        case((items.c.overdue, 0), else_=1),
        items.c.due,
        func.lower(items.c.organisation_name),
        func.lower(items.c.project_name),
        items.c.project_id,
        items.c.quarter,
    ]


@dataclass
class DuePage:
    items: list[DueItem]  # this page's returns, with their last reminder and contacts
    query: DueQuery
    page: PageOf
    total_count: int  # returns on the unfiltered list
    years: list[str]  # the labels of the years the unfiltered list holds, latest first
    refreshed: bool = False  # stale summary rows were computed again: the view commits them


def _as_items(rows, now: datetime, years: list[FinancialYear]) -> list[DueItem]:
    """DueItems of rows of `_due_items`, their projects and organisations read in one query; each project is given
    its organisation and year, so the page reads them without a query a row."""
    by_id = {year.id: year for year in years}
    projects = {}
    for project, organisation in db.session.execute(
        select(Project, Organisation)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .where(Project.id.in_({row.project_id for row in rows}))
    ):
        set_committed_value(project, "organisation", organisation)
        set_committed_value(project, "year", by_id[project.year_id])
        projects[project.id] = project
    today = uk_today(now)
    return [
        DueItem(
            projects[row.project_id],
            row.quarter,
            row.due,
            row.status,
            (today - row.due).days if row.overdue else 0,
            extended=bool(row.extended),
        )
        for row in rows
    ]


def due_page(query: DueQuery, *, now: datetime | None = None, per_page: int = PER_PAGE) -> DuePage:
    """One page of the due list, filtered from the URL; a page past the last shows the last. The same few queries
    however many returns are due."""
    now = now or utcnow()
    held, years = _open_years(now)
    refreshed = refresh_stale(held, now=now)
    items = _due_items(years, now)
    matching = and_(true(), *query.conditions(items))
    counts = db.session.execute(
        select(items.c.start_year, func.count(), func.sum(case((matching, 1), else_=0))).group_by(items.c.start_year)
    ).all()
    labels = {year.start_year: year.label for year in years}
    at = PageOf.clamped(query.page, sum(int(row[2] or 0) for row in counts), per_page)
    rows = db.session.execute(
        select(items).where(matching).order_by(*_order(items, now)).offset(at.offset).limit(per_page)
    ).all()
    found = _as_items(rows, now, held)
    last_reminded(found)
    return DuePage(
        items=found,
        query=replace(query, page=at.number),
        page=at,
        total_count=sum(int(row[1]) for row in counts),
        years=[labels[row[0]] for row in sorted(counts, key=lambda row: -row[0])],
        refreshed=refreshed,
    )


def chaseable_items(keys: list[str], *, now: datetime | None = None) -> list[DueItem]:
    """Of the returns a form names ("<project>-<quarter>"), those on the due list and overdue, with their last
    reminder and contacts: what may be chased now. Read in SQL for the named returns only."""
    now = now or utcnow()
    wanted = set()
    for key in keys:
        project_id, _, quarter = key.partition("-")
        if project_id.isdigit() and quarter.isdigit():
            wanted.add((int(project_id), int(quarter)))
    if not wanted:
        return []
    held, years = _open_years(now)
    items = _due_items(years, now)
    rows = db.session.execute(
        select(items)
        .where(items.c.overdue, tuple_(items.c.project_id, items.c.quarter).in_(sorted(wanted)))
        .order_by(*_order(items, now))
    ).all()
    found = _as_items(rows, now, held)
    last_reminded(found)
    return found
