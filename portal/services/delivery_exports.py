"""The year's delivery as spreadsheet rows: one row per project and one per output measure.

Rows carry typed values (see services/exports.py), organisations and projects in name order; the
columns and the rows that fill them are kept together so that they cannot drift apart.
"""

from __future__ import annotations

from ..models import FinancialYear
from ..models.vocabulary import QUARTERS, rag_label
from .delivery import ProjectDelivery
from .disclosure import Cell, publish_all
from .exports import Value, amount, number

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


def _by_organisation_then_project(deliveries: list[ProjectDelivery]) -> list[ProjectDelivery]:
    return sorted(deliveries, key=lambda d: (d.project.organisation.name.casefold(), d.project.name.casefold()))


def project_rows(year: FinancialYear, deliveries: list[ProjectDelivery]) -> list[list[Value]]:
    """One row per project: award, paid, spend against award and profile, delivery, the four RAG ratings and
    each quarter's status as its tags say it (Overdue, Not required and Not open included)."""
    rows: list[list[Value]] = []
    for delivery in _by_organisation_then_project(deliveries):
        project = delivery.project
        rows.append(
            [
                year.label,
                project.organisation.name,
                project.name,
                project.priority.name if project.priority else None,
                project.funding_stream.name,
                amount(project.amount_pence),
                amount(delivery.paid_pence),
                amount(delivery.reported_spend_pence),
                delivery.spend_pct_of_award,
                delivery.spend_pct_of_profile,
                rag_label(delivery.spend_rag),
                delivery.delivery_pct,
                rag_label(delivery.delivery_rag),
                rag_label(delivery.partner_rag),
                rag_label(delivery.csu_rag),
                *(delivery.status_word(q) for q in QUARTERS),
            ]
        )
    return rows


def measure_rows(year: FinancialYear, deliveries: list[ProjectDelivery]) -> list[list[Value]]:
    """One row per output measure: each quarter's figure, the total, how far it is towards the target, and
    which quarters' figures are provisional (submitted, not yet approved), like "Q2 Q3"."""
    rows: list[list[Value]] = []
    for delivery in _by_organisation_then_project(deliveries):
        project = delivery.project
        for figures in delivery.measures:
            measure = figures.measure
            rows.append(
                [
                    year.label,
                    project.organisation.name,
                    project.name,
                    measure.name,
                    measure.unit,
                    measure.combine,
                    *(number(value) for value in figures.quarters),
                    number(figures.total),
                    number(measure.annual_target),
                    figures.pct_of_target,
                    " ".join(f"Q{q}" for q in figures.provisional_quarters),
                ]
            )
    return rows


def _published(value: Cell) -> Value:
    return value if isinstance(value, str) else number(value)


def publication_measure_rows(
    year: FinancialYear, deliveries: list[ProjectDelivery], threshold: int | None = None
) -> list[list[Value]]:
    """The measure rows for publication: as `measure_rows`, with counts of 1 to the threshold people shown as
    "5 or fewer", and a total (and % of target) that would give one away hidden too."""
    rows: list[list[Value]] = []
    for delivery in _by_organisation_then_project(deliveries):
        project = delivery.project
        for published in publish_all(delivery.measures, threshold):
            measure = published.measure
            pct = published.pct_of_target
            rows.append(
                [
                    year.label,
                    project.organisation.name,
                    project.name,
                    measure.name,
                    measure.unit,
                    measure.combine,
                    *(_published(value) for value in published.quarters),
                    _published(published.total),
                    number(measure.annual_target),
                    pct,
                    " ".join(f"Q{q}" for q in published.figures.provisional_quarters),
                    "yes" if measure.counts_people else "no",
                ]
            )
    return rows
