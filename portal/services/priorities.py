"""The CSU's projects by priority, answered in SQL from each project's summary row (services/summary.py): each
priority's figures from one GROUP BY, and the projects of one priority (or of all) a page at a time, so the page
costs the same few queries however many projects the year holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from ..extensions import db
from ..models import FinancialYear, Organisation, Priority, Project, ProjectSummary
from ..models.vocabulary import RAGS
from ..pagination import PageOf, page_number, url_number
from .ordering import blank_last, text_order
from .summary import refresh_stale

PER_PAGE = 25
WITHOUT_PRIORITY = "none"  # the URL's name for the projects that serve no priority


@dataclass(frozen=True)
class PriorityFigures:
    """What one priority's projects add up to (priority None: the projects without one)."""

    priority: Priority | None
    projects: int = 0
    award_pence: int = 0
    paid_pence: int = 0
    spend_pence: int = 0
    delivery_rags: Mapping[str | None, int] = field(default_factory=dict)  # RAG (None: no rating) -> projects

    @property
    def key(self) -> str:
        """How the URL names this priority's projects."""
        return str(self.priority.id) if self.priority else WITHOUT_PRIORITY


@dataclass(frozen=True)
class PrioritiesQuery:
    """Which priority's projects to list (a priority's id, WITHOUT_PRIORITY, or every project) and the page;
    read from the URL, an unknown value ignored rather than refused."""

    priority: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> PrioritiesQuery:
        priority = args.get("priority", "")
        return cls(
            priority=priority if url_number(priority) is not None or priority == WITHOUT_PRIORITY else "",
            page=page_number(args),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments with some changed; empty ones (and page 1) left out."""
        values = {"priority": self.priority, "page": self.page, **changes}
        if values["page"] == 1:
            values.pop("page")
        return {key: value for key, value in values.items() if value}

    def condition(self) -> ColumnElement[bool] | None:
        if self.priority == WITHOUT_PRIORITY:
            return Project.priority_id.is_(None)
        if self.priority:
            return Project.priority_id == int(self.priority)
        return None


@dataclass
class PrioritiesPage:
    figures: list[PriorityFigures]  # each priority in rank order, then the projects without one (if any)
    total: PriorityFigures  # the whole year
    query: PrioritiesQuery
    shown: PriorityFigures | None  # the priority whose projects are listed; None: every project
    rows: list[ProjectSummary]  # this page's projects, their project, organisation and priority loaded
    page: PageOf
    refreshed: bool = False  # stale summary rows were computed again: the view commits them
    # Each row's project, organisation and priority, held so that the session (which holds what it loaded weakly)
    # finds them when the page asks a row for its project: no query a row.
    loaded: list[Any] = field(default_factory=list)


def _figures(year: FinancialYear) -> dict[int | None, PriorityFigures]:
    """Each priority's count, award, paid, reported spend and delivery RAGs: one GROUP BY query."""
    rag_counts = [func.sum(case((ProjectSummary.delivery_rag == rag, 1), else_=0)) for rag in RAGS]
    rows = db.session.execute(
        select(
            Project.priority_id,
            func.count(),
            func.sum(ProjectSummary.award_pence),
            func.sum(ProjectSummary.paid_pence),
            func.sum(ProjectSummary.reported_spend_pence),
            *rag_counts,
        )
        .select_from(ProjectSummary)
        .join(Project, Project.id == ProjectSummary.project_id)
        .where(ProjectSummary.year_id == year.id)
        .group_by(Project.priority_id)
    )
    found: dict[int | None, PriorityFigures] = {}
    for priority_id, count, award, paid, spend, *rags in rows:
        by_rag: dict[str | None, int] = {rag: int(number or 0) for rag, number in zip(RAGS, rags, strict=True)}
        by_rag[None] = int(count) - sum(by_rag.values())
        found[priority_id] = PriorityFigures(None, int(count), int(award or 0), int(paid or 0), int(spend or 0), by_rag)
    return found


def _added(figures: list[PriorityFigures]) -> PriorityFigures:
    rags: dict[str | None, int] = {rag: 0 for rag in (*RAGS, None)}
    for each in figures:
        for rag, number in each.delivery_rags.items():
            rags[rag] += number
    return PriorityFigures(
        None,
        sum(each.projects for each in figures),
        sum(each.award_pence for each in figures),
        sum(each.paid_pence for each in figures),
        sum(each.spend_pence for each in figures),
        rags,
    )


def priorities_page(year: FinancialYear, query: PrioritiesQuery, *, per_page: int = PER_PAGE) -> PrioritiesPage:
    """The year's priorities with their figures and one page of projects; a page past the last shows the last.
    Four queries after the stale rows, if any, are computed (services/summary.py)."""
    refreshed = refresh_stale(year)
    ranked = list(db.session.scalars(select(Priority).where(Priority.year_id == year.id).order_by(Priority.rank)))
    grouped = _figures(year)
    none_yet = PriorityFigures(None, delivery_rags={rag: 0 for rag in (*RAGS, None)})
    figures = [replace(grouped.get(priority.id, none_yet), priority=priority) for priority in ranked]
    if None in grouped:
        figures.append(grouped[None])
    shown = next((each for each in figures if each.key == query.priority), None)
    if shown is None:
        query = PrioritiesQuery(page=query.page)  # a priority of another year, or gone: every project
    page = PageOf.clamped(query.page, shown.projects if shown else sum(f.projects for f in figures), per_page)
    condition = query.condition()
    rows = list(
        db.session.execute(
            select(ProjectSummary, Project, Organisation, Priority)
            .join(Project, Project.id == ProjectSummary.project_id)
            .join(Organisation, Organisation.id == Project.organisation_id)
            .outerjoin(Priority, Priority.id == Project.priority_id)
            .where(ProjectSummary.year_id == year.id, *([condition] if condition is not None else []))
            .order_by(*blank_last(Priority.rank), text_order(Organisation.name), text_order(Project.name), Project.id)
            .offset(page.offset)
            .limit(per_page)
        )
    )
    return PrioritiesPage(
        figures=figures,
        total=_added(figures),
        query=PrioritiesQuery(query.priority, page.number),
        shown=shown,
        rows=[row[0] for row in rows],
        loaded=rows,
        page=page,
        refreshed=refreshed,
    )
