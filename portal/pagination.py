"""GOV.UK pagination for every paged list: the page links (first, last and those around the current page) as
govukPagination's parameters, and the arithmetic of a page, so each list pages the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PAGE_WINDOW = 2  # page links either side of the current page
URL_NUMBER_DIGITS = 9  # a page or an id from the address: fits any database's integer


def url_number(text: str | None) -> int | None:
    """A whole number typed in an address (ASCII digits, not too many), or None: "²" or "٣" are digits to
    `str.isdigit` but not to `int` in every form, and a thirty-digit id overflows the database's integers."""
    if text and text.isascii() and text.isdigit() and len(text) <= URL_NUMBER_DIGITS:
        return int(text)
    return None


def page_number(args: Mapping[str, str]) -> int:
    """The page the address asks for; anything but a positive whole number is the first."""
    return max(url_number(args.get("page")) or 1, 1)


@dataclass(frozen=True)
class PageOf:
    """Which page of how many rows: `number` is clamped to the last page (a page past the last shows the last)."""

    number: int
    matched: int
    per_page: int

    @classmethod
    def clamped(cls, number: int, matched: int, per_page: int) -> PageOf:
        pages = max(1, -(-matched // per_page))
        return cls(number=min(max(number, 1), pages), matched=matched, per_page=per_page)

    @property
    def pages(self) -> int:
        return max(1, -(-self.matched // self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def first(self) -> int:
        """The number of the page's first row (0 when there are none)."""
        return self.offset + 1 if self.matched else 0

    @property
    def last(self) -> int:
        return min(self.offset + self.per_page, self.matched)


def govuk_pagination(
    pages: int,
    current: int,
    href: Callable[[int], str],
    label: str,
    *,
    htmx_target: str | None = None,
) -> dict[str, Any] | None:
    """govukPagination's parameters, or None when everything fits on one page. With `htmx_target`, each link also
    swaps that element in place and pushes its URL (the link works the same without JavaScript)."""
    if pages <= 1:
        return None

    def link(number: int) -> dict[str, Any]:
        url = href(number)
        found: dict[str, Any] = {"href": url}
        if htmx_target:
            found["attributes"] = {
                "hx-get": url,
                "hx-target": htmx_target,
                "hx-swap": "outerHTML",
                "hx-push-url": "true",
            }
        return found

    items: list[dict[str, Any]] = []
    for number in range(1, pages + 1):
        if number in (1, pages) or abs(number - current) <= PAGE_WINDOW:
            items.append({"number": number, "current": number == current, **link(number)})
        elif items and not items[-1].get("ellipsis"):
            items.append({"ellipsis": True})
    pagination: dict[str, Any] = {"items": items, "landmarkLabel": label}
    if current > 1:
        pagination["previous"] = link(current - 1)
    if current < pages:
        pagination["next"] = link(current + 1)
    return pagination
