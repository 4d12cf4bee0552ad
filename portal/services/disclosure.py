"""Small numbers: what a table that leaves the partnership may print of a count of people.

The one rule, for the annual report (page and Word) and the measures export for publication:

- A measure that does not count people (`OutputMeasure.counts_people` false) is published as it is.
- Primary: a quarter's count of people from 1 to the threshold T (`SMALL_NUMBER_THRESHOLD`, default 5) is
  shown as "T or fewer"; 0 is shown as 0 and a quarter not reported stays blank.
- Secondary: the total is shown as "T or fewer" too, and the % of target (which gives the total away) as
  "Not shown", when
  (a) the total is itself from 1 to T; or
  (b) k ≥ 1 quarters are hidden and the rest R = total − the quarters shown would tell a reader something the
      hiding was for: R from 1 to T (always so when k = 1, for R is then the hidden count), or R leaving each
      hidden quarter only one possible value (with k quarters of 1 to T each: R = k means all 1, R = k × T
      means all T).
  A "latest quarter" measure's total is its latest quarter, so (a) hides it when that quarter is small.
- Rows are independent: the published tables have no column totals for a hidden cell to be worked out from.

The CSU's own pages and exports keep exact figures: only the callers named above ask this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app

from ..models.project import OutputMeasure
from ..models.vocabulary import (
    COMBINE_SUM,
    SMALL_NUMBER_PCT_HIDDEN,
    SMALL_NUMBER_THRESHOLD_DEFAULT,
    small_number_note,
    small_number_words,
)
from .delivery import MeasureFigures

Cell = Decimal | str | None  # a figure, the small-number words in its place, or blank (not reported)


def small_number_threshold() -> int:
    return int(current_app.config.get("SMALL_NUMBER_THRESHOLD", SMALL_NUMBER_THRESHOLD_DEFAULT))


def is_small(value: Decimal | None, threshold: int) -> bool:
    """A count from 1 to the threshold: 0 and a blank are not small."""
    return value is not None and 0 < value <= threshold


def total_reveals(quarters: list[Decimal | None], total: Decimal | None, combine: str, threshold: int) -> bool:
    """Whether the total would give away a hidden quarter (the secondary rule (a) and (b) above)."""
    if total is None:
        return False
    if is_small(total, threshold):
        return True
    hidden = [value for value in quarters if is_small(value, threshold)]
    if not hidden or combine != COMBINE_SUM:
        return False
    rest = total - sum(
        (value for value in quarters if value is not None and not is_small(value, threshold)), Decimal(0)
    )
    k = len(hidden)
    lowest = max(Decimal(1), rest - (k - 1) * threshold)
    highest = min(Decimal(threshold), rest - (k - 1))
    return rest <= threshold or lowest >= highest


@dataclass(frozen=True)
class PublishedFigures:
    """One measure's row as published: each cell the figure or, where it is hidden, the small-number words."""

    figures: MeasureFigures
    quarters: list[Cell]
    total: Cell
    pct_of_target: Cell

    @property
    def measure(self) -> OutputMeasure:
        return self.figures.measure

    @property
    def provisional(self) -> list[bool]:
        return self.figures.provisional

    @property
    def suppressed(self) -> bool:
        return any(isinstance(cell, str) for cell in (*self.quarters, self.total, self.pct_of_target))


def publish(figures: MeasureFigures, threshold: int) -> PublishedFigures:
    """A measure's row with the small numbers hidden, by the rule in this module's docstring."""
    total, pct = figures.total, figures.pct_of_target
    if not figures.measure.counts_people:
        return PublishedFigures(figures, list(figures.quarters), total, pct)
    words = small_number_words(threshold)
    quarters: list[Cell] = [words if is_small(value, threshold) else value for value in figures.quarters]
    if total_reveals(figures.quarters, total, figures.measure.combine, threshold):
        return PublishedFigures(figures, quarters, words, SMALL_NUMBER_PCT_HIDDEN if pct is not None else None)
    return PublishedFigures(figures, quarters, total, pct)


def publish_all(measures: list[MeasureFigures], threshold: int | None = None) -> list[PublishedFigures]:
    threshold = small_number_threshold() if threshold is None else threshold
    return [publish(figures, threshold) for figures in measures]


def suppression_note(rows: list[PublishedFigures], threshold: int | None = None) -> str | None:
    """Said under a published table that hides a figure: why it does."""
    if not any(row.suppressed for row in rows):
        return None
    return small_number_note(small_number_threshold() if threshold is None else threshold)
