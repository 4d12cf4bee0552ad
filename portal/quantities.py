"""Measure values: whole counts, or hours to two decimal places. ASCII digits only."""

from __future__ import annotations

import re
from decimal import Decimal

MAX_QUANTITY = 1_000_000
COUNT = re.compile(r"^[0-9]{1,7}$")
HOURS = re.compile(r"^[0-9]{1,7}(\.[0-9]{1,2})?$")


class QuantityError(ValueError):
    pass


def parse_quantity(value: object, *, decimals: bool) -> Decimal:
    """Parse a typed or imported value; the message says what is allowed."""
    allowed = (
        "a number from 0 to 1,000,000, like 12 or 7.5, with up to 2 decimal places"
        if decimals
        else "a whole number from 0 to 1,000,000, like 12, using the digits 0 to 9 only"
    )
    if isinstance(value, (bool, float)):
        raise QuantityError(f"must be {allowed}")
    text = str(value).strip() if isinstance(value, (int, Decimal, str)) else None
    if text is None or not (HOURS if decimals else COUNT).match(text):
        raise QuantityError(f"must be {allowed}")
    number = Decimal(text)
    if number > MAX_QUANTITY:
        raise QuantityError(f"must be {allowed}")
    return number


def format_quantity(value: Decimal | None) -> str:
    if value is None:
        return ""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def plain_quantity(value: Decimal | None) -> str:
    """A stored value as it is typed: 231, or 5840.50 for hours."""
    if value is None:
        return ""
    return str(int(value)) if value == value.to_integral_value() else f"{value:.2f}"
