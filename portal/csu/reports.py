"""The CSU's downloads: the annual-report tables (a printable page and a Word document) and the spreadsheet exports.

The report is built in services/annual_report.py; every figure comes from services/delivery.py and
services/figures.py, so the page, the .docx and the exports say what the overview says. Each download
runs the same handful of queries however many projects the year has.
"""

from __future__ import annotations

from flask import render_template

from ..models import FinancialYear
from ..services.annual_report import (
    annual_report_document,
    approved_progress,
    build_annual_report,
    funded_sentence,
    remainder_sentence,
)
from ..services.delivery import RAG_WORDS, ProjectDelivery, year_delivery
from ..services.exports import amount, docx_response, download_year_or_404, number, table_response
from ..services.years import all_years, year_or_404

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
)
QUARTERS = (1, 2, 3, 4)


# -- exports ---------------------------------------------------------------------------------------


def _by_organisation_then_project(deliveries: list[ProjectDelivery]) -> list[ProjectDelivery]:
    return sorted(deliveries, key=lambda d: (d.project.organisation.name.casefold(), d.project.name.casefold()))


def _rag(rag: str | None) -> str:
    return RAG_WORDS.get(rag or "", "")


def project_rows(year: FinancialYear, deliveries: list[ProjectDelivery]) -> list[list]:
    rows = []
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
                delivery.delivery_pct,
                _rag(delivery.delivery_rag),
                _rag(delivery.partner_rag),
                _rag(delivery.csu_rag),
                *(delivery.status_label(q) for q in QUARTERS),
            ]
        )
    return rows


def measure_rows(year: FinancialYear, deliveries: list[ProjectDelivery]) -> list[list]:
    rows = []
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
                ]
            )
    return rows


def projects_export(year_label: str, fmt: str):
    year = download_year_or_404(year_label, fmt)
    rows = project_rows(year, year_delivery(year))
    return table_response(fmt, f"projects-{year.label}", PROJECT_COLUMNS, rows, f"Projects {year.label}")


def measures_export(year_label: str, fmt: str):
    year = download_year_or_404(year_label, fmt)
    rows = measure_rows(year, year_delivery(year))
    return table_response(fmt, f"measures-{year.label}", MEASURE_COLUMNS, rows, f"Measures {year.label}")


def annual_report_page(year_label: str):
    year = year_or_404(year_label)
    report = build_annual_report(year)
    return render_template(
        "csu/annual_report.html",
        year=year,
        years=all_years(),
        report=report,
        approved_progress=approved_progress,
        funded_sentence=funded_sentence,
        remainder_sentence=remainder_sentence,
    )


def annual_report_docx(year_label: str):
    year = year_or_404(year_label)
    return docx_response(f"annual-report-{year.label}.docx", annual_report_document(build_annual_report(year)))
