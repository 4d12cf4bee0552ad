"""The CSU overview's filters and sorting, read from the URL so a view can be shared and bookmarked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from werkzeug.datastructures import MultiDict

from ..models.vocabulary import OVERDUE, OVERDUE_LABEL, QUARTERS, RAG_LABELS, RAGS, STATUS_LABELS
from .delivery import ProjectDelivery
from .figures import StreamFigures

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

RAG_ORDER: dict[str | None, int] = {**{rag: order for order, rag in enumerate(RAGS)}, None: len(RAGS)}
STATUS_FILTERS = {OVERDUE: OVERDUE_LABEL, **STATUS_LABELS}
NO_RATING = "none"
RAG_FILTERS = {**RAG_LABELS, NO_RATING: "No rating"}


def _number(value: Decimal | int | None) -> tuple[int, Decimal]:
    return (1, Decimal(0)) if value is None else (0, Decimal(value))


SORT_KEYS: dict[str, tuple[str, Callable[[ProjectDelivery], SupportsRichComparison]]] = {
    "organisation": ("Organisation", lambda d: d.project.organisation.name.lower()),
    "project": ("Project", lambda d: d.project.name.lower()),
    "priority": (
        "Priority",
        lambda d: (d.project.priority is None, d.project.priority.rank if d.project.priority else 0),
    ),
    "award": ("Award", lambda d: d.project.amount_pence),
    "paid": ("Paid", lambda d: d.paid_pence),
    "spend": ("Reported spend", lambda d: d.reported_spend_pence),
    "delivery": ("Delivery to date", lambda d: _number(d.delivery_pct)),
    "delivery_rag": ("Delivery RAG", lambda d: RAG_ORDER[d.delivery_rag]),
    "spend_rag": ("Spend RAG", lambda d: RAG_ORDER[d.spend_rag]),
    "partner_rag": ("Partner RAG", lambda d: RAG_ORDER[d.partner_rag]),
    "csu_rag": ("CSU RAG", lambda d: RAG_ORDER[d.csu_rag]),
}


@dataclass
class OverviewQuery:
    priority: str = ""
    organisation: str = ""
    rag: str = ""
    spend_rag: str = ""
    status: str = ""
    sort: str = "organisation"
    direction: str = "asc"

    @classmethod
    def from_args(cls, args: MultiDict) -> OverviewQuery:
        """Unknown values are ignored rather than refused: a stale bookmark still shows the overview."""
        query = cls(
            priority=args.get("priority", ""),
            organisation=args.get("organisation", ""),
            rag=args.get("rag", "") if args.get("rag", "") in RAG_FILTERS else "",
            spend_rag=args.get("spend_rag", "") if args.get("spend_rag", "") in RAG_FILTERS else "",
            status=args.get("status", "") if args.get("status", "") in STATUS_FILTERS else "",
            sort=args.get("sort", "organisation") if args.get("sort") in SORT_KEYS else "organisation",
            direction="desc" if args.get("dir") == "desc" else "asc",
        )
        return query

    def args(self, **changes: str) -> dict[str, str]:
        """URL arguments for this query with some changed; empty ones are left out."""
        values = {
            "priority": self.priority,
            "organisation": self.organisation,
            "rag": self.rag,
            "spend_rag": self.spend_rag,
            "status": self.status,
            "sort": self.sort,
            "dir": self.direction,
            **changes,
        }
        if values.get("sort") == "organisation" and values.get("dir") == "asc":
            values.pop("sort"), values.pop("dir")
        return {key: value for key, value in values.items() if value}

    def sort_args(self, column: str) -> dict[str, str]:
        direction = "desc" if self.sort == column and self.direction == "asc" else "asc"
        return self.args(sort=column, dir=direction)

    def matches(self, delivery: ProjectDelivery) -> bool:
        project = delivery.project
        if self.priority and str(project.priority_id or "") != self.priority:
            return False
        if self.organisation and project.organisation.short_name != self.organisation:
            return False
        if self.rag and (delivery.delivery_rag or NO_RATING) != self.rag:
            return False
        if self.spend_rag and (delivery.spend_rag or NO_RATING) != self.spend_rag:
            return False
        if self.status == OVERDUE:
            return any(delivery.is_overdue(q) for q in QUARTERS)
        if self.status:
            return any(delivery.is_open(q) and delivery.status(q) == self.status for q in QUARTERS)
        return True

    def apply(self, rows: list[ProjectDelivery]) -> list[ProjectDelivery]:
        kept = [row for row in rows if self.matches(row)]
        key = SORT_KEYS[self.sort][1]
        kept.sort(key=lambda row: row.project.name.lower())  # a stable order within ties
        kept.sort(key=key, reverse=self.direction == "desc")
        return kept


@dataclass(frozen=True)
class OverviewTotals:
    """The overview's totals: what its shown rows add up to, then each funding stream of the year with
    what all its projects were awarded and what is left unallocated (or over-allocated)."""

    award_pence: int
    paid_pence: int
    spend_pence: int
    streams: tuple[StreamFigures, ...] = ()

    @classmethod
    def of(cls, rows: list[ProjectDelivery], streams: list[StreamFigures] | None = None) -> OverviewTotals:
        return cls(
            award_pence=sum(row.project.amount_pence for row in rows),
            paid_pence=sum(row.paid_pence for row in rows),
            spend_pence=sum(row.reported_spend_pence for row in rows),
            streams=tuple(streams or ()),
        )
