"""Finance's figures for a year: each funding stream's awards, what has been paid, what is still to pay and what
the projects report spending; a page of the year's projects with those figures; and, at year end, a page of each
project's reconciliation.

Every per-project figure is read from the projects' summary rows (services/summary.py keeps them with every write;
the one definition is delivery.py's), summed, sorted and paged in SQL: a page costs the same few queries however
many projects the year holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    FinancialYear,
    FundingStream,
    Organisation,
    Payment,
    PaymentInstalment,
    Project,
    ProjectSummary,
)
from ..models.vocabulary import APPROVED, QUARTERS
from ..pagination import PageOf
from .figures import StreamFigures
from .ledger import (
    ProjectLedger,
    ReconciliationRow,
    amount_over,
    instalment_states,
    instalments_by_project,
    ledgers_of,
    schedule_summary,
)
from .ordering import text_order
from .summary import refresh_stale

PER_PAGE = 25


@dataclass
class StreamTotals:
    """A funding stream's figures and what its projects were paid and report spending."""

    figures: StreamFigures
    paid_pence: int
    spend_pence: int
    projects: int = 0

    @property
    def to_pay_pence(self) -> int:
        return self.figures.awarded_pence - self.paid_pence


@dataclass
class YearFunding:
    streams: list[StreamTotals]
    refreshed: bool = False  # stale summary rows were computed again: the view commits them

    @property
    def projects(self) -> int:
        return sum(item.projects for item in self.streams)

    @property
    def award_pence(self) -> int:
        return sum(item.figures.awarded_pence for item in self.streams)

    @property
    def paid_pence(self) -> int:
        return sum(item.paid_pence for item in self.streams)

    @property
    def spend_pence(self) -> int:
        return sum(item.spend_pence for item in self.streams)

    @property
    def to_pay_pence(self) -> int:
        return self.award_pence - self.paid_pence


def year_funding(year: FinancialYear) -> YearFunding:
    """Each funding stream of a year with its projects' award, paid, still to pay and reported spend: one aggregate
    query over the summary rows (after computing again any that are stale)."""
    refreshed = refresh_stale(year)
    rows = db.session.execute(
        select(
            FundingStream,
            func.count(Project.id),
            func.coalesce(func.sum(Project.amount_pence), 0),
            func.coalesce(func.sum(ProjectSummary.paid_pence), 0),
            func.coalesce(func.sum(ProjectSummary.reported_spend_pence), 0),
        )
        .outerjoin(Project, and_(Project.funding_stream_id == FundingStream.id, Project.year_id == year.id))
        .outerjoin(ProjectSummary, ProjectSummary.project_id == Project.id)
        .where(FundingStream.year_id == year.id)
        .group_by(FundingStream.id)
        .order_by(FundingStream.name, FundingStream.id)
    )
    streams = [
        StreamTotals(StreamFigures(stream, int(awarded)), int(paid), int(spend), int(count))
        for stream, count, awarded, paid, spend in rows
    ]
    return YearFunding(streams, refreshed)


def _by_organisation_then_project(year: FinancialYear) -> Select:
    """The year's projects with their summary rows, by organisation then project."""
    return (
        select(Project, ProjectSummary)
        .join(ProjectSummary, ProjectSummary.project_id == Project.id)
        .join(Organisation, Project.organisation_id == Organisation.id)
        .where(Project.year_id == year.id)
        .options(joinedload(Project.organisation), joinedload(Project.funding_stream))
        .order_by(text_order(Organisation.name), text_order(Project.name), Project.id)
    )


@dataclass
class FundingRow:
    """A project on the finance home: its figures from its summary row, and its payment schedule."""

    project: Project
    summary: ProjectSummary
    instalments: list[PaymentInstalment]

    @property
    def award_pence(self) -> int:
        return self.summary.award_pence

    @property
    def paid_pence(self) -> int:
        return self.summary.paid_pence

    @property
    def spend_pence(self) -> int:
        return self.summary.reported_spend_pence

    @property
    def balance_pence(self) -> int:
        return self.award_pence - self.paid_pence

    @property
    def schedule_summary(self) -> str:
        approved = {quarter for quarter in QUARTERS if self.summary.status(quarter) == APPROVED}
        return schedule_summary(instalment_states(self.instalments, self.paid_pence, approved))


@dataclass
class FundingPage:
    funding: YearFunding
    rows: list[FundingRow]
    page: PageOf


def funding_page(year: FinancialYear, number: int = 1, *, per_page: int = PER_PAGE) -> FundingPage:
    """The year's streams and one page of its projects, by organisation then project; a page past the last shows
    the last. Four queries."""
    funding = year_funding(year)
    page = PageOf.clamped(number, funding.projects, per_page)
    found = db.session.execute(_by_organisation_then_project(year).offset(page.offset).limit(per_page)).all()
    instalments = instalments_by_project([project.id for project, _ in found])
    rows = [FundingRow(project, summary, instalments.get(project.id, [])) for project, summary in found]
    return FundingPage(funding, rows, page)


@dataclass(frozen=True)
class ReconciliationTotals:
    """The reconciliation's totals over every project of the year, each summed in SQL the way a row computes it."""

    award_pence: int = 0
    paid_pence: int = 0
    spend_pence: int = 0
    underspend_to_recover_pence: int = 0
    spent_beyond_payments_pence: int = 0


@dataclass
class ReconciliationPage:
    rows: list[ReconciliationRow]
    totals: ReconciliationTotals
    page: PageOf
    refreshed: bool = False  # stale summary rows were computed again: the view commits them


def _reconciliation_totals(year: FinancialYear) -> tuple[int, ReconciliationTotals]:
    """How many projects the year holds, and their totals: one query."""
    paid, spend = ProjectSummary.paid_pence, ProjectSummary.reported_spend_pence
    count, *sums = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(ProjectSummary.award_pence), 0),
            func.coalesce(func.sum(paid), 0),
            func.coalesce(func.sum(spend), 0),
            func.coalesce(func.sum(amount_over(paid, spend)), 0),
            func.coalesce(func.sum(amount_over(spend, paid)), 0),
        ).where(ProjectSummary.year_id == year.id)
    ).one()
    return int(count), ReconciliationTotals(*(int(value) for value in sums))


def reconciliation_page(year: FinancialYear, number: int = 1, *, per_page: int = PER_PAGE) -> ReconciliationPage:
    """One page of each project's award, paid and final reported spend, by organisation then project, with the
    year's totals; a page past the last shows the last. Three queries."""
    refreshed = refresh_stale(year)
    count, totals = _reconciliation_totals(year)
    page = PageOf.clamped(number, count, per_page)
    found = db.session.execute(_by_organisation_then_project(year).offset(page.offset).limit(per_page)).all()
    rows = [
        ReconciliationRow(project, summary.award_pence, summary.paid_pence, summary.reported_spend_pence)
        for project, summary in found
    ]
    return ReconciliationPage(rows, totals, page, refreshed)


@dataclass(frozen=True)
class LedgerTotals:
    """What every project of the year was awarded and paid, and what is still to pay: from the ledger itself."""

    award_pence: int = 0
    paid_pence: int = 0

    @property
    def to_pay_pence(self) -> int:
        return self.award_pence - self.paid_pence


@dataclass
class LedgerPage:
    ledgers: list[ProjectLedger]
    totals: LedgerTotals
    page: PageOf


def _ledger_totals(year: FinancialYear) -> tuple[int, LedgerTotals]:
    """How many projects the year holds, their awards and their payments less reversals: one query."""
    paid = (
        select(func.coalesce(func.sum(Payment.signed_pence), 0))
        .join(Project, Payment.project_id == Project.id)
        .where(Project.year_id == year.id)
        .correlate(None)
        .scalar_subquery()
    )
    count, award, paid_pence = db.session.execute(
        select(func.count(Project.id), func.coalesce(func.sum(Project.amount_pence), 0), paid).where(
            Project.year_id == year.id
        )
    ).one()
    return int(count), LedgerTotals(int(award), int(paid_pence))


def ledger_page(year: FinancialYear, number: int = 1, *, per_page: int = PER_PAGE) -> LedgerPage:
    """The ledgers of one page of the year's projects, by organisation then project, with the year's totals; a page
    past the last shows the last. Four queries."""
    count, totals = _ledger_totals(year)
    page = PageOf.clamped(number, count, per_page)
    projects = list(
        db.session.scalars(
            select(Project)
            .join(Organisation, Project.organisation_id == Organisation.id)
            .where(Project.year_id == year.id)
            .options(joinedload(Project.organisation), joinedload(Project.year))
            .order_by(text_order(Organisation.name), text_order(Project.name), Project.id)
            .offset(page.offset)
            .limit(per_page)
        )
    )
    return LedgerPage(ledgers_of(projects, schedules=False), totals, page)
