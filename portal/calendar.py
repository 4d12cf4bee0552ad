"""Financial years and quarters in UK time (Europe/London)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
YEAR_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER_MONTHS = {1: (4, 6), 2: (7, 9), 3: (10, 12), 4: (1, 3)}


@dataclass(frozen=True)
class Quarter:
    number: int
    start: date
    end: date
    due: date

    @property
    def name(self) -> str:
        return f"Q{self.number}"

    @property
    def due_deadline(self) -> datetime:
        """The last instant (UTC) at which a return for this quarter is on time: 23:59:59 UK time."""
        return end_of_uk_day(self.due)

    def due_on(self, day: date | None) -> Quarter:
        """This quarter with another due date (an extension), or itself when there is none."""
        return replace(self, due=day) if day is not None else self

    def has_started(self, today: date) -> bool:
        return today >= self.start

    def is_overdue(self, now: datetime) -> bool:
        return now > self.due_deadline


def end_of_uk_day(day: date) -> datetime:
    """The last instant (UTC) of a day in the UK, in BST or GMT alike."""
    return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=UK).astimezone(UTC)


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def quarters_of(start_year: int, due_days: int) -> list[Quarter]:
    quarters = []
    for number, (first, last) in QUARTER_MONTHS.items():
        year = start_year if number < 4 else start_year + 1
        end = _month_end(year, last)
        quarters.append(Quarter(number, date(year, first, 1), end, end + timedelta(days=due_days)))
    return quarters


def uk_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UK).date()


def start_year_of(day: date) -> int:
    """The financial year (by its first calendar year) that contains a day."""
    return day.year if day.month >= 4 else day.year - 1


def year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def parse_year_label(label: str) -> int | None:
    """'2021-22' -> 2021; None when the label is not a valid financial year."""
    match = YEAR_LABEL.match(label or "")
    if not match:
        return None
    start = int(match.group(1))
    return start if (start + 1) % 100 == int(match.group(2)) else None


def current_start_year(now: datetime | None = None) -> int:
    return start_year_of(uk_today(now))


def to_uk(moment: datetime) -> datetime:
    return moment.astimezone(UK)


def day_text(day: date) -> str:
    """'14 February 2027', as every page writes a date."""
    return f"{day.day} {day:%B %Y}"


def uk_time(moment: datetime) -> str:
    """'14:32' in UK time."""
    return f"{to_uk(moment):%H:%M}"
