"""The audit trail as people read it: events filtered by who, what and when, newest first, a page at a time,
each with its before and after values in words.

A page costs three queries whatever the trail's length: one count, one page of events (with their actors),
and the people who appear as actors (for the filter). The CSV is one query over the same filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import joinedload, lazyload

from ..calendar import UK, to_uk
from ..extensions import db
from ..models import AuditEvent, User
from ..models.user import ROLE_LABELS, ROLES
from ..models.vocabulary import (
    ANSWER_LABELS,
    AUDIT_BLANK,
    AUDIT_NO,
    AUDIT_TEXT_CHANGED,
    AUDIT_YES,
    COMBINE_LABELS,
    NARRATIVE_FIELDS,
    OBJECT_TYPE_LABELS,
    RATING_LABEL,
    STATUS_LABELS,
    SYSTEM_ACTOR,
    rag_label,
)
from ..money import format_pence
from .exports import Value

PER_PAGE = 50
# What the trail records in place of a narrative answer: that it changed, never the text.
CHANGED_MARKER = "changed"
NARRATIVE_KEYS = frozenset(NARRATIVE_FIELDS) | frozenset(NARRATIVE_FIELDS.values())
RATING_KEYS = frozenset({"rag", "partner_rag", RATING_LABEL})
FIELD_LABELS = {"rag": RATING_LABEL, "active": "Can sign in"}
CSV_COLUMNS = ("time_uk", "actor_email", "actor_name", "action", "object_type", "object_id", "summary", "changes")


@dataclass(frozen=True)
class TrailFilter:
    """Which events: by whom (a user's id, or `system_only` for the command line), about what, and when."""

    actor_id: int | None = None
    system_only: bool = False
    object_type: str | None = None
    object_id: int | None = None
    date_from: date | None = None  # UK dates, both days included
    date_to: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.system_only:
            found.append(AuditEvent.actor_id.is_(None))
        elif self.actor_id is not None:
            found.append(AuditEvent.actor_id == self.actor_id)
        if self.object_type:
            found.append(AuditEvent.object_type == self.object_type)
        if self.object_id is not None:
            found.append(AuditEvent.object_id == self.object_id)
        if self.date_from is not None:
            found.append(AuditEvent.at >= uk_midnight(self.date_from))
        if self.date_to is not None:
            found.append(AuditEvent.at < uk_midnight(self.date_to + timedelta(days=1)))
        return found


def uk_midnight(day: date) -> datetime:
    """The instant (UTC) a UK day begins, in GMT or BST alike."""
    return datetime.combine(day, time.min, tzinfo=UK).astimezone(UTC)


@dataclass(frozen=True)
class TrailPage:
    events: list[AuditEvent]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.events)


def _events(filters: TrailFilter) -> Select[AuditEvent]:
    return (
        select(AuditEvent)
        .where(*filters.conditions())
        # The actor comes in the same query; their roles are not needed here.
        .options(joinedload(AuditEvent.actor).options(lazyload(User.role_rows)))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )


def trail_page(filters: TrailFilter, page: int, *, per_page: int = PER_PAGE) -> TrailPage | None:
    """One page of the filtered trail, newest first; None for a page past the last."""
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(*filters.conditions())) or 0
    pages = max(1, -(-total // per_page))
    if page < 1 or page > pages:
        return None
    events = list(db.session.scalars(_events(filters).offset((page - 1) * per_page).limit(per_page)))
    return TrailPage(events=events, total=total, page=page, pages=pages, per_page=per_page)


def actors() -> list[User]:
    """Everyone who appears in the trail as the person who acted, by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(exists().where(AuditEvent.actor_id == User.id))
            .options(lazyload(User.role_rows))
            .order_by(User.name, User.email)
        )
    )


# -- before and after, in words ---------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One value an event records: `before` is None when the event records a value rather than a change."""

    label: str
    after: str
    before: str | None = None

    @property
    def description(self) -> str:
        return self.after if self.before is None else f"from {self.before} to {self.after}"

    @property
    def text(self) -> str:
        return f"{self.label}: {self.description}"


def _label(key: str) -> str:
    if key in ANSWER_LABELS or key in FIELD_LABELS:
        return ANSWER_LABELS.get(key) or FIELD_LABELS[key]
    words = key.removesuffix("_pence").replace("_", " ")
    return words[:1].upper() + words[1:]


def _words(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return AUDIT_BLANK
    if isinstance(value, bool):
        return AUDIT_YES if value else AUDIT_NO
    if key.endswith("_pence") and isinstance(value, int):
        return format_pence(value)
    if key == "roles" and isinstance(value, list):
        ordered = sorted(map(str, value), key=lambda role: ROLES.index(role) if role in ROLES else len(ROLES))
        return ", ".join(ROLE_LABELS.get(role, role) for role in ordered)
    if key in RATING_KEYS and isinstance(value, str):
        return rag_label(value) or value
    if key == "status" and isinstance(value, str):
        return STATUS_LABELS.get(value, value)
    if key == "combine" and isinstance(value, str):
        return COMBINE_LABELS.get(value, value)
    if isinstance(value, list):
        return ", ".join(_words(key, item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{name}: {_words(str(name), item)}" for name, item in value.items())
    return str(value)


def _change(key: str, before: Any, after: Any) -> Change:
    if key in NARRATIVE_KEYS or (before == CHANGED_MARKER and after == CHANGED_MARKER):
        # A narrative answer: the trail keeps that it changed, never the words.
        return Change(_label(key), AUDIT_TEXT_CHANGED)
    return Change(_label(key), _words(key, after), _words(key, before))


def describe_changes(changes: dict[str, Any]) -> list[Change]:
    """{key: [before, after]} in words, as the audit trail will show them (a check-your-answers page uses it)."""
    return [
        _change(str(key), pair[0], pair[1])
        for key, pair in changes.items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]


def changes_of(event: AuditEvent) -> list[Change]:
    """The event's details as label, before and after. Three shapes are recorded: {"changes": {key: [before,
    after]}}, {"before": {...}, "after": {...}}, and plain values {key: value}."""
    details = event.details or {}
    found: list[Change] = []
    changes = details.get("changes")
    if isinstance(changes, dict):
        found.extend(describe_changes(changes))
    before, after = details.get("before"), details.get("after")
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
        for key in dict.fromkeys([*before, *after]):
            found.append(_change(str(key), before.get(key), after.get(key)))
    for key, value in details.items():
        if key in ("changes", "before", "after"):
            continue
        if key in NARRATIVE_KEYS:
            found.append(Change(_label(key), AUDIT_TEXT_CHANGED))
        else:
            found.append(Change(_label(key), _words(key, value)))
    return found


def object_label(object_type: str) -> str:
    return OBJECT_TYPE_LABELS.get(object_type, _label(object_type))


def actor_label(actor: User | None) -> str:
    if actor is None:
        return SYSTEM_ACTOR
    return f"{actor.name} ({actor.email})" if actor.name else actor.email


# -- the download -------------------------------------------------------------------------------


def csv_rows(filters: TrailFilter) -> Iterator[list[Value]]:
    """The filtered trail, newest first, one row per event (exports.csv_response neutralises the text)."""
    for event in db.session.scalars(_events(filters).execution_options(yield_per=500)):
        yield [
            to_uk(event.at).replace(microsecond=0).isoformat(),
            event.actor.email if event.actor else "",
            event.actor.name if event.actor else SYSTEM_ACTOR,
            event.action,
            object_label(event.object_type),
            event.object_id,
            event.summary,
            "; ".join(change.text for change in changes_of(event)),
        ]
