"""Finance's downloads: the year's allocation and its ledger, as CSV and Excel.

Both are read from SQL as they are written: the allocation from one aggregation a column (services/funding.py
`year_funding`), the ledger entry by entry (services/ledger.py `year_entries`), the same few queries however many
projects the year has."""

from __future__ import annotations

from ..auth.loaders import load_download_year
from ..extensions import db
from ..services import ledger as ledger_service
from ..services.exports import amount, table_response
from ..services.funding import year_funding

ALLOCATION_COLUMNS = (
    "financial_year",
    "funding_stream",
    "funder",
    "total",
    "awarded",
    "unallocated",
    "paid",
    "reported_spend",
)
LEDGER_COLUMNS = (
    "financial_year",
    "organisation",
    "project",
    "entry_type",
    "date",
    "amount",
    "reference",
    "note",
    "recorded_by",
)


def allocation_export(year_label: str, fmt: str):
    year = load_download_year(year_label, fmt)
    funding = year_funding(year)
    if funding.refreshed:
        db.session.commit()
    rows = [
        [
            year.label,
            item.figures.stream.name,
            item.figures.stream.funder,
            amount(item.figures.stream.amount_pence),
            amount(item.figures.awarded_pence),
            amount(item.figures.unallocated_pence),
            amount(item.paid_pence),
            amount(item.spend_pence),
        ]
        for item in funding.streams
    ]
    return table_response(fmt, f"allocation-{year.label}", ALLOCATION_COLUMNS, rows, f"Allocation {year.label}")


def ledger_export(year_label: str, fmt: str):
    year = load_download_year(year_label, fmt)
    rows = (
        [
            year.label,
            entry.project.organisation.name,
            entry.project.name,
            entry.entry_type,
            entry.on,
            amount(entry.shown_pence),
            entry.reference,
            entry.note,
            (entry.recorded_by.name or entry.recorded_by.email) if entry.recorded_by else None,
        ]
        for entry in ledger_service.year_entries(year)
    )
    return table_response(fmt, f"ledger-{year.label}", LEDGER_COLUMNS, rows, f"Ledger {year.label}")
