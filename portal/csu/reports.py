"""The CSU's downloads: the annual-report tables (a printable page and a Word document) and the spreadsheet exports.

The report is built in services/annual_report.py and the spreadsheet rows in services/delivery_exports.py;
every figure comes from services/delivery.py and services/figures.py (the project rows through each project's
summary row), so the page, the .docx and the exports say what the overview says. Each download runs the same
handful of queries however many projects the year has, and a spreadsheet is written as its rows are read.
"""

from __future__ import annotations

from flask import render_template, request, url_for

from ..auth.loaders import load_download_year, load_year
from ..extensions import db
from ..pagination import govuk_pagination, page_number
from ..services.annual_report import (
    annual_report_document,
    build_annual_report,
    funded_sentence,
    remainder_sentence,
    report_page,
)
from ..services.delivery_exports import (
    MEASURE_COLUMNS,
    PROJECT_COLUMNS,
    PUBLICATION_MEASURE_COLUMNS,
    measure_rows,
    project_rows,
    publication_measure_rows,
)
from ..services.exports import docx_response, table_response
from ..services.summary import refresh_stale
from ..services.years import all_years


def projects_export(year_label: str, fmt: str):
    year = load_download_year(year_label, fmt)
    if refresh_stale(year):
        db.session.commit()
    rows = project_rows(year)
    return table_response(fmt, f"projects-{year.label}", PROJECT_COLUMNS, rows, f"Projects {year.label}")


def measures_export(year_label: str, fmt: str):
    year = load_download_year(year_label, fmt)
    rows = measure_rows(year)
    return table_response(fmt, f"measures-{year.label}", MEASURE_COLUMNS, rows, f"Measures {year.label}")


def measures_publication_export(year_label: str, fmt: str):
    """The measures for publication: small counts of people hidden (services/disclosure.py)."""
    year = load_download_year(year_label, fmt)
    rows = publication_measure_rows(year)
    name = f"measures-for-publication-{year.label}"
    return table_response(fmt, name, PUBLICATION_MEASURE_COLUMNS, rows, f"Measures for publication {year.label}")


def annual_report_page(year_label: str):
    """The report a page of projects at a time (the .docx has the whole year)."""
    year = load_year(year_label)
    report = report_page(year, page_number(request.args))
    pagination = govuk_pagination(
        report.page.pages,
        report.page.number,
        lambda number: url_for("csu.annual_report", year_label=year.label, page=number if number > 1 else None),
        "Pages of the annual report",
    )
    return render_template(
        "csu/annual_report.html",
        year=year,
        years=all_years(),
        report=report,
        pagination=pagination,
        funded_sentence=funded_sentence,
        remainder_sentence=remainder_sentence,
    )


def annual_report_docx(year_label: str):
    year = load_year(year_label)
    return docx_response(f"annual-report-{year.label}.docx", annual_report_document(build_annual_report(year)))
