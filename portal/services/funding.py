"""Finance's figures for a year: each funding stream's awards, what has been paid, what is still to pay
and what the projects report spending; and, at year end, each project's reconciliation.

Its own module, not part of figures.py: the reported spend comes from the projects' summary rows (summary.py),
which are computed by delivery.py, which reads figures.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import FinancialYear, Payment, Project, ProjectSummary
from . import ledger
from .figures import StreamFigures, stream_figures
from .ledger import ProjectLedger, ReconciliationRow
from .summary import refresh_stale


@dataclass
class StreamTotals:
    """A funding stream's figures, its projects' ledgers (by organisation, then project) and their sums."""

    figures: StreamFigures
    rows: list[ProjectLedger]
    paid_pence: int
    spend_pence: int

    @property
    def to_pay_pence(self) -> int:
        return self.figures.awarded_pence - self.paid_pence


@dataclass
class YearFunding:
    streams: list[StreamTotals]
    reported_spend_pence: dict[int, int]  # by project id; a project that has reported nothing is missing


def _by_organisation_then_project(item: ProjectLedger | ReconciliationRow) -> tuple[str, str]:
    return (item.project.organisation.name, item.project.name)


def _reported_spend(year: FinancialYear) -> dict[int, int]:
    """Each project's reported spend, from its summary row (services/summary.py keeps it with every write; the one
    definition is delivery.py's): one query, not the year's returns rebuilt."""
    refresh_stale(year)
    rows = db.session.execute(
        select(ProjectSummary.project_id, ProjectSummary.reported_spend_pence).where(ProjectSummary.year_id == year.id)
    )
    return {project_id: spend for project_id, spend in rows}


def year_funding(year: FinancialYear) -> YearFunding:
    """Each funding stream of a year with its paid, still-to-pay and reported spend, in a bounded number of queries."""
    ledgers = ledger.ledgers(year)
    spend = _reported_spend(year)
    streams = []
    for figures in stream_figures(year):
        rows = sorted(
            (item for item in ledgers if item.project.funding_stream_id == figures.stream.id),
            key=_by_organisation_then_project,
        )
        streams.append(
            StreamTotals(
                figures=figures,
                rows=rows,
                paid_pence=sum(item.paid_pence for item in rows),
                spend_pence=sum(spend.get(item.project.id, 0) for item in rows),
            )
        )
    return YearFunding(streams=streams, reported_spend_pence=spend)


@dataclass
class StreamSums:
    """A funding stream's figures with what its projects have been paid and report spending."""

    figures: StreamFigures
    paid_pence: int
    spend_pence: int


def stream_totals(year: FinancialYear) -> list[StreamSums]:
    """Each funding stream of a year with its paid and reported spend summed in SQL (the year's ledgers and returns
    are never loaded): four queries. *Paid* is `Payment.signed_pence` summed, as `paid_by_project` sums it; the
    reported spend is read from the summary rows, so the caller runs `refresh_stale(year)` first."""
    paid = dict(
        db.session.execute(
            select(Project.funding_stream_id, func.sum(Payment.signed_pence))
            .join(Payment, Payment.project_id == Project.id)
            .where(Project.year_id == year.id)
            .group_by(Project.funding_stream_id)
        ).all()
    )
    spend = dict(
        db.session.execute(
            select(Project.funding_stream_id, func.sum(ProjectSummary.reported_spend_pence))
            .join(ProjectSummary, ProjectSummary.project_id == Project.id)
            .where(Project.year_id == year.id)
            .group_by(Project.funding_stream_id)
        ).all()
    )
    return [
        StreamSums(figures, int(paid.get(figures.stream.id) or 0), int(spend.get(figures.stream.id) or 0))
        for figures in stream_figures(year)
    ]


def reconciliation_rows(year: FinancialYear) -> list[ReconciliationRow]:
    """Each project's award, paid and final reported spend, by organisation then project."""
    spend = _reported_spend(year)
    rows = [
        ReconciliationRow(item.project, item.award_pence, item.paid_pence, spend.get(item.project.id, 0))
        for item in ledger.ledgers(year)
    ]
    return sorted(rows, key=_by_organisation_then_project)
