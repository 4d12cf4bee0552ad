"""The year's delivery as spreadsheet rows: one row per project and one per output measure.

Rows carry typed values (see services/exports.py), organisations and projects in name order; the
columns and the rows that fill them are kept together so that they cannot drift apart.

The rows are read from SQL and yielded as they are read, so a download holds one project at a time however many
the year has: the project rows from each project's summary row (services/summary.py: the figures as
services/delivery.py computes them), the measure rows from one query over the measures and their reported
returns' values, combined by delivery.py's `measure_figures`. One query each, however many projects.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import groupby

from sqlalchemy import Select, and_, select

from ..extensions import db
from ..models import (
    FinancialYear,
    FundingStream,
    MeasureValue,
    MonitoringReturn,
    Organisation,
    OutputMeasure,
    Priority,
    Project,
    ProjectSummary,
)
from ..models.vocabulary import QUARTERS, rag_label
from .delivery import MeasureFigures, measure_figures
from .disclosure import Cell, publish, small_number_threshold
from .exports import Value, amount, number
from .ordering import text_order

ROWS_AT_A_TIME = 500  # rows fetched from the database at a time (a server-side cursor on PostgreSQL)

PROJECT_COLUMNS = (
    "financial_year",
    "organisation",
    "project",
    "priority",
    "funding_stream",
    "award",
    "paid",
    "reported_spend",
    "spend_pct_of_award",
    "spend_pct_of_profile",
    "spend_rag",
    "delivery_pct_of_target",
    "delivery_rag",
    "partner_rag",
    "csu_rag",
    "q1_status",
    "q2_status",
    "q3_status",
    "q4_status",
)
MEASURE_COLUMNS = (
    "financial_year",
    "organisation",
    "project",
    "measure",
    "unit",
    "combine",
    "q1",
    "q2",
    "q3",
    "q4",
    "total",
    "annual_target",
    "pct_of_target",
    "provisional_quarters",
)
# For publication: the same columns, small counts of people hidden (services/disclosure.py), and whether the
# measure counts people, so a reader knows which rows the rule applies to.
PUBLICATION_MEASURE_COLUMNS = (*MEASURE_COLUMNS, "counts_people")


def _in_name_order(query: Select) -> Select:
    """Organisations, then their projects, by name regardless of case (as the overview sorts them), then in the
    order the projects were set up."""
    return query.order_by(text_order(Organisation.name), text_order(Project.name), Project.id).execution_options(
        yield_per=ROWS_AT_A_TIME
    )


def project_rows(year: FinancialYear) -> Iterator[list[Value]]:
    """One row per project: award, paid, spend against award and profile, delivery, the four RAG ratings and
    each quarter's status as its tags say it (Overdue, Not required and Not open included).

    Read from the summary rows: the caller runs `refresh_stale(year)` first (and commits if it wrote)."""
    query = (
        select(ProjectSummary, Organisation.name, Project.name, Priority.name, FundingStream.name, Project.amount_pence)
        .join(Project, Project.id == ProjectSummary.project_id)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .join(FundingStream, FundingStream.id == Project.funding_stream_id)
        .outerjoin(Priority, Priority.id == Project.priority_id)
        .where(Project.year_id == year.id)
    )
    label = year.label
    for summary, organisation, project, priority, stream, award in db.session.execute(_in_name_order(query)):
        yield [
            label,
            organisation,
            project,
            priority,
            stream,
            amount(award),
            amount(summary.paid_pence),
            amount(summary.reported_spend_pence),
            summary.spend_pct_of_award,
            summary.spend_pct_of_profile,
            rag_label(summary.spend_rag),
            summary.delivery_pct,
            rag_label(summary.delivery_rag),
            rag_label(summary.partner_rag),
            rag_label(summary.csu_rag),
            *(summary.status_word(q) for q in QUARTERS),
        ]


def _measures(year: FinancialYear) -> Iterator[tuple[str, str, MeasureFigures]]:
    """Each output measure of the year with its organisation's and project's names and its figures, in name order:
    one query over the measures and the values of their projects' reported returns."""
    query = (
        select(
            OutputMeasure,
            Organisation.name,
            Project.name,
            MonitoringReturn.quarter,
            MonitoringReturn.status,
            MeasureValue.value,
        )
        .join(Project, Project.id == OutputMeasure.project_id)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .outerjoin(MonitoringReturn, and_(MonitoringReturn.project_id == Project.id, MonitoringReturn.is_reported))
        .outerjoin(
            MeasureValue,
            and_(MeasureValue.return_id == MonitoringReturn.id, MeasureValue.measure_id == OutputMeasure.id),
        )
        .where(Project.year_id == year.id)
    )
    query = _in_name_order(query).order_by(OutputMeasure.position, OutputMeasure.id, MonitoringReturn.quarter)
    rows = db.session.execute(query)
    for _, grouped in groupby(rows, key=lambda row: row[0].id):
        found = list(grouped)  # up to four rows: one a reported quarter, or one without any
        measure, organisation, project = found[0][0], found[0][1], found[0][2]
        by_quarter: dict[int, tuple[str, Decimal | None]] = {}
        for _measure, _organisation, _project, quarter, status, value in found:
            if quarter is not None:  # None: the outer join found no reported return
                by_quarter[quarter] = (status, value)
        yield organisation, project, measure_figures(measure, by_quarter)


def _provisional(figures: MeasureFigures) -> str:
    return " ".join(f"Q{q}" for q in figures.provisional_quarters)


def measure_rows(year: FinancialYear) -> Iterator[list[Value]]:
    """One row per output measure: each quarter's figure, the total, how far it is towards the target, and
    which quarters' figures are provisional (submitted, not yet approved), like "Q2 Q3"."""
    label = year.label
    for organisation, project, figures in _measures(year):
        measure = figures.measure
        yield [
            label,
            organisation,
            project,
            measure.name,
            measure.unit,
            measure.combine,
            *(number(value) for value in figures.quarters),
            number(figures.total),
            number(measure.annual_target),
            figures.pct_of_target,
            _provisional(figures),
        ]


def _published(value: Cell) -> Value:
    return value if isinstance(value, str) else number(value)


def publication_measure_rows(year: FinancialYear, threshold: int | None = None) -> Iterator[list[Value]]:
    """The measure rows for publication: as `measure_rows`, with counts of 1 to the threshold people shown as
    "5 or fewer", and a total (and % of target) that would give one away hidden too."""
    threshold = small_number_threshold() if threshold is None else threshold
    label = year.label
    for organisation, project, figures in _measures(year):
        published = publish(figures, threshold)
        measure = figures.measure
        yield [
            label,
            organisation,
            project,
            measure.name,
            measure.unit,
            measure.combine,
            *(_published(value) for value in published.quarters),
            _published(published.total),
            number(measure.annual_target),
            published.pct_of_target,
            _provisional(figures),
            "yes" if measure.counts_people else "no",
        ]
