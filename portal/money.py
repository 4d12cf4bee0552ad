"""Money is held in integer pence; this is the one place that parses and formats it."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Pounds with at most two decimal places, ASCII digits only, no signs or separators.
POUNDS = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,2})?$")
MAX_PENCE = 100_000_000_00  # £100m: far above any grant a partnership hands out
TOO_LARGE = "must be less than £100,000,000.00"


class MoneyError(ValueError):
    """A money value that cannot be held exactly in pence."""


def pence_from_pounds(value: object) -> int:
    """Convert a pounds amount (str, int or Decimal) exactly to pence; floats are refused."""
    if isinstance(value, (bool, float)):
        raise MoneyError("must be written as a number of pounds, like 1000.00")
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError("must be a number of pounds, like 1000.00")
        if value < 0:
            raise MoneyError("must not be negative")
        if value > Decimal(MAX_PENCE).scaleb(-2):  # before quantize(), which cannot hold more than 28 digits
            raise MoneyError(TOO_LARGE)
        if value != value.quantize(Decimal("0.01")):
            raise MoneyError("must have no more than 2 decimal places")
        pence = int(value * 100)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise MoneyError("must not be negative")
        if not POUNDS.match(text):
            if re.match(r"^[0-9]+\.[0-9]{3,}$", text):
                raise MoneyError("must have no more than 2 decimal places")
            raise MoneyError("must be a number of pounds, like 1000.00")
        try:
            pence = int(Decimal(text) * 100)
        except InvalidOperation as error:  # pragma: no cover - the pattern already checked it
            raise MoneyError("must be a number of pounds, like 1000.00") from error
    else:
        raise MoneyError("must be a number of pounds, like 1000.00")
    if pence > MAX_PENCE:
        raise MoneyError(TOO_LARGE)
    return pence


def format_pence(pence: int | None, *, sign: bool = True) -> str:
    """12345 -> '£123.45'; negative amounts keep their minus sign before the pound sign."""
    if pence is None:
        return ""
    amount = f"{abs(pence) // 100:,}.{abs(pence) % 100:02d}"
    prefix = "-" if pence < 0 else ""
    return f"{prefix}£{amount}" if sign else f"{prefix}{amount}"
