"""Finding the financial year a page is about."""

from __future__ import annotations

from flask import abort
from sqlalchemy import select

from ..calendar import current_start_year, parse_year_label
from ..extensions import db
from ..models import FinancialYear


def all_years() -> list[FinancialYear]:
    return list(db.session.scalars(select(FinancialYear).order_by(FinancialYear.start_year.desc())))


def year_or_404(label: str) -> FinancialYear:
    start = parse_year_label(label)
    if start is None:
        abort(404)
    year = db.session.scalar(select(FinancialYear).where(FinancialYear.start_year == start))
    if year is None:
        abort(404)
    return year


def default_year(years: list[FinancialYear]) -> FinancialYear | None:
    """The current financial year if it is set up, else the latest one before it, else None."""
    current = current_start_year()
    earlier = [year for year in years if year.start_year <= current]
    return earlier[0] if earlier else (years[-1] if years else None)
