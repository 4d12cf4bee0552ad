"""Finding the financial year a page is about."""

from __future__ import annotations

from sqlalchemy import select

from ..calendar import current_start_year, parse_year_label
from ..extensions import db
from ..models import FinancialYear


def all_years() -> list[FinancialYear]:
    return list(db.session.scalars(select(FinancialYear).order_by(FinancialYear.start_year.desc())))


def find_year(label: str) -> FinancialYear | None:
    """The year with this label (like 2021-22), or None when the label is malformed or not set up."""
    start = parse_year_label(label)
    if start is None:
        return None
    return db.session.scalar(select(FinancialYear).where(FinancialYear.start_year == start))


def default_year(years: list[FinancialYear]) -> FinancialYear | None:
    """The current financial year if it is set up, else the latest one before it, else None."""
    current = current_start_year()
    earlier = [year for year in years if year.start_year <= current]
    return earlier[0] if earlier else (years[-1] if years else None)
