"""The CSU overview's filters, sorting and pages, read from the URL so a view can be shared and bookmarked, and
answered in SQL from each project's summary row (services/summary.py): a page costs the same few queries however
many projects the year holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..models import FinancialYear, Organisation, Priority, Project, ProjectSummary
from ..models.vocabulary import OVERDUE, OVERDUE_LABEL, QUARTERS, RAG_LABELS, RAGS, STATUS_LABELS
from ..pagination import page_number, url_number
from .figures import StreamFigures, stream_figures
from .ordering import blank_last, text_order
from .summary import refresh_stale

STATUS_FILTERS = {OVERDUE: OVERDUE_LABEL, **STATUS_LABELS}
NO_RATING = "none"
RAG_FILTERS = {**RAG_LABELS, NO_RATING: "No rating"}
PER_PAGE = 25
ORGANISATION_FILTER_LENGTH = 100


def _rag_order(column) -> ColumnElement:
    """Green, Amber, Red, then no rating."""
    return case({rag: order for order, rag in enumerate(RAGS)}, value=column, else_=len(RAGS))


SORT_KEYS: dict[str, tuple[str, Callable[[], list[Any]]]] = {
    "organisation": ("Organisation", lambda: [text_order(Organisation.name)]),
    "project": ("Project", lambda: [text_order(Project.name)]),
    "priority": ("Priority", lambda: blank_last(Priority.rank)),
    "award": ("Award", lambda: [ProjectSummary.award_pence]),
    "paid": ("Paid", lambda: [ProjectSummary.paid_pence]),
    "spend": ("Reported spend", lambda: [ProjectSummary.reported_spend_pence]),
    "delivery": ("Delivery to date", lambda: blank_last(ProjectSummary.delivery_pct)),
    "delivery_rag": ("Delivery RAG", lambda: [_rag_order(ProjectSummary.delivery_rag)]),
    "spend_rag": ("Spend RAG", lambda: [_rag_order(ProjectSummary.spend_rag)]),
    "partner_rag": ("Partner RAG", lambda: [_rag_order(ProjectSummary.partner_rag)]),
    "csu_rag": ("CSU RAG", lambda: [_rag_order(ProjectSummary.csu_rag)]),
}


def _rag_is(column, wanted: str) -> ColumnElement[bool]:
    return column.is_(None) if wanted == NO_RATING else column == wanted


def _quarter(name: str, quarter: int):
    return getattr(ProjectSummary, f"q{quarter}_{name}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class OverviewQuery:
    priority: str = ""
    organisation: str = ""  # an organisation's short name, or part of its name
    rag: str = ""
    spend_rag: str = ""
    status: str = ""
    sort: str = "organisation"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args: MultiDict) -> OverviewQuery:
        """Unknown values are ignored rather than refused: a stale bookmark still shows the overview."""
        query = cls(
            priority=args.get("priority", ""),
            organisation=args.get("organisation", "").strip()[:ORGANISATION_FILTER_LENGTH],
            rag=args.get("rag", "") if args.get("rag", "") in RAG_FILTERS else "",
            spend_rag=args.get("spend_rag", "") if args.get("spend_rag", "") in RAG_FILTERS else "",
            status=args.get("status", "") if args.get("status", "") in STATUS_FILTERS else "",
            sort=args.get("sort", "organisation") if args.get("sort") in SORT_KEYS else "organisation",
            direction="desc" if args.get("dir") == "desc" else "asc",
            page=page_number(args),
        )
        return query

    def args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments for this query with some changed; empty ones (and page 1) are left out."""
        values: dict[str, Any] = {
            "priority": self.priority,
            "organisation": self.organisation,
            "rag": self.rag,
            "spend_rag": self.spend_rag,
            "status": self.status,
            "sort": self.sort,
            "dir": self.direction,
            "page": self.page,
            **changes,
        }
        if values.get("sort") == "organisation" and values.get("dir") == "asc":
            values.pop("sort"), values.pop("dir")
        if values.get("page") == 1:
            values.pop("page")
        return {key: value for key, value in values.items() if value}

    def sort_args(self, column: str) -> dict[str, Any]:
        """Sorting by a column starts again at page 1."""
        direction = "desc" if self.sort == column and self.direction == "asc" else "asc"
        return self.args(sort=column, dir=direction, page=1)

    def page_args(self, page: int) -> dict[str, Any]:
        return self.args(page=page)

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filters as SQL over the summary joined to its project and organisation."""
        found: list[ColumnElement[bool]] = []
        if self.priority:
            priority_id = url_number(self.priority)
            found.append(Project.priority_id == priority_id if priority_id is not None else false())
        if self.organisation:
            text = self.organisation.lower()
            found.append(
                or_(
                    func.lower(Organisation.short_name) == text,
                    func.lower(Organisation.name).like(f"%{_escape_like(text)}%", escape="\\"),
                )
            )
        if self.rag:
            found.append(_rag_is(ProjectSummary.delivery_rag, self.rag))
        if self.spend_rag:
            found.append(_rag_is(ProjectSummary.spend_rag, self.spend_rag))
        if self.status == OVERDUE:
            found.append(or_(*(_quarter("overdue", q) for q in QUARTERS)))
        elif self.status:
            found.append(or_(*(and_(_quarter("open", q), _quarter("status", q) == self.status) for q in QUARTERS)))
        return found

    def order_by(self) -> list[Any]:
        keys = SORT_KEYS[self.sort][1]()
        ordered = [key.desc() if self.direction == "desc" else key.asc() for key in keys]
        return [*ordered, text_order(Project.name), Project.id]  # a stable order within ties


@dataclass(frozen=True)
class OverviewTotals:
    """The overview's totals: what the projects that match the filters add up to (on every page), then each
    funding stream of the year with what all its projects were awarded and what is left unallocated."""

    award_pence: int
    paid_pence: int
    spend_pence: int
    streams: tuple[StreamFigures, ...] = ()


@dataclass
class OverviewPage:
    rows: list[ProjectSummary]
    query: OverviewQuery
    matched: int  # projects that match the filters
    total_count: int  # projects of the year
    totals: OverviewTotals
    per_page: int = PER_PAGE
    priorities: list[Priority] = field(default_factory=list)
    refreshed: bool = False  # stale summary rows were computed again: the view commits them

    @property
    def pages(self) -> int:
        return max(1, -(-self.matched // self.per_page))

    @property
    def first(self) -> int:
        return (self.query.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.query.page - 1) * self.per_page + len(self.rows)


def _matching(year: FinancialYear, query: OverviewQuery) -> Select:
    return (
        select(ProjectSummary)
        .join(ProjectSummary.project)
        .join(Project.organisation)
        .outerjoin(Project.priority)
        .where(ProjectSummary.year_id == year.id, *query.conditions())
    )


def _totals(matching: Select) -> tuple[int, int, int, int]:
    """How many projects match, and their award, paid and reported spend: one query."""
    rows = matching.subquery()
    count, award, paid, spend = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(rows.c.award_pence), 0),
            func.coalesce(func.sum(rows.c.paid_pence), 0),
            func.coalesce(func.sum(rows.c.reported_spend_pence), 0),
        ).select_from(rows)
    ).one()
    return int(count), int(award), int(paid), int(spend)


def overview_page(year: FinancialYear, query: OverviewQuery, *, per_page: int = PER_PAGE) -> OverviewPage:
    """One page of the year's overview, filtered and sorted; a page past the last shows the last. Nine queries;
    stale summary rows, when there are any, are computed first (services/summary.py)."""
    refreshed = refresh_stale(year)
    matching = _matching(year, query)
    matched, award, paid, spend = _totals(matching)
    query = replace(query, page=min(query.page, max(1, -(-matched // per_page))))
    rows = list(
        db.session.scalars(
            # selectinload, not contains_eager over the filter's joins: with SQLAlchemy 2.1.9's compiled row and
            # result extensions, that joined eager load corrupted memory later in the process (a segfault in the
            # garbage collector, found by the benchmark; gone with the pure-Python modules or with this).
            matching.options(
                selectinload(ProjectSummary.project).options(
                    selectinload(Project.organisation), selectinload(Project.priority)
                )
            )
            .order_by(*query.order_by())
            .offset((query.page - 1) * per_page)
            .limit(per_page)
        )
    )
    total_count = db.session.scalar(select(func.count()).where(ProjectSummary.year_id == year.id)) or 0
    priorities = list(
        db.session.scalars(
            select(Priority)
            .where(Priority.id.in_(select(Project.priority_id).where(Project.year_id == year.id)))
            .order_by(Priority.rank)
        )
    )
    return OverviewPage(
        rows=rows,
        query=query,
        matched=matched,
        total_count=total_count,
        totals=OverviewTotals(award, paid, spend, tuple(stream_figures(year))),
        per_page=per_page,
        priorities=priorities,
        refreshed=refreshed,
    )
