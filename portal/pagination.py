"""GOV.UK pagination for every paged list: the page links (first, last and those around the current page) as
govukPagination's parameters, and the arithmetic of a page, so each list pages the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PAGE_WINDOW = 2  # page links either side of the current page


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
