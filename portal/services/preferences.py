"""Which mail each person receives: read by everything that sends mail, changed on "Your account".

Mandatory kinds (overdue reminders, chasing, account mail) are always delivered as each message, whatever
is stored; optional kinds default to each message until the person chooses a daily summary or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select

from ..extensions import db
from ..models import MailPreference, User
from ..models.mail_preference import optional_kinds_for
from ..models.vocabulary import (
    DELIVERIES,
    DELIVERY_EACH,
    DELIVERY_LABELS,
    MAIL_KIND_LABELS,
    MAIL_KINDS,
    MANDATORY_MAIL_KINDS,
    MANDATORY_REFUSAL,
    NOT_OFFERED_REFUSAL,
)
from . import audit

__all__ = ["DELIVERY_EACH", "PreferenceError", "deliveries_for", "delivery_for", "preferences_of", "set_preferences"]


class PreferenceError(ValueError):
    """A choice refused; `kind` names the kind of mail it was about."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _known(kind: str) -> None:
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown kind of mail: {kind!r}")


def delivery_for(user: User, kind: str) -> str:
    """DELIVERY_EACH, DELIVERY_DAILY or DELIVERY_NONE: how `user` receives mail of `kind`."""
    return deliveries_for([user], kind)[user.id]


def deliveries_for(users: Iterable[User], kind: str) -> dict[int, str]:
    """`delivery_for` for many people in one query, by user id (for commands that mail many people)."""
    _known(kind)
    ids = [user.id for user in users]
    result = dict.fromkeys(ids, DELIVERY_EACH)
    if kind in MANDATORY_MAIL_KINDS or not ids:
        return result
    stored = db.session.execute(
        select(MailPreference.user_id, MailPreference.delivery).where(
            MailPreference.kind == kind, MailPreference.user_id.in_(ids)
        )
    )
    result.update({user_id: delivery for user_id, delivery in stored})
    return result


def preferences_of(user: User) -> dict[str, str]:
    """Each optional kind this person receives, with their choice (each message unless they chose otherwise)."""
    stored = {row.kind: row.delivery for row in _rows(user)}
    return {kind: stored.get(kind, DELIVERY_EACH) for kind in optional_kinds_for(user)}


def _rows(user: User) -> list[MailPreference]:
    return list(db.session.scalars(select(MailPreference).where(MailPreference.user_id == user.id)))


def check_choices(user: User, choices: Mapping[str, str]) -> None:
    """Refuse the whole set if any choice is about a mandatory kind, a kind not offered, or an unknown delivery."""
    offered = optional_kinds_for(user)
    for kind, delivery in choices.items():
        label = MAIL_KIND_LABELS.get(kind, kind)
        if kind in MANDATORY_MAIL_KINDS:
            raise PreferenceError(MANDATORY_REFUSAL.format(label=label), kind)
        if kind not in offered:
            raise PreferenceError(NOT_OFFERED_REFUSAL.format(label=label), kind)
        if delivery not in DELIVERIES:
            raise PreferenceError(f"Select how you want to receive “{label}”", kind)


def set_preferences(user: User, choices: Mapping[str, str], *, by: User) -> dict[str, tuple[str, str]]:
    """Store the choices (all or nothing) and audit what changed; returns {kind: (before, after)}. Flushes."""
    check_choices(user, choices)
    rows = {row.kind: row for row in _rows(user)}
    changes: dict[str, tuple[str, str]] = {}
    for kind, delivery in choices.items():
        row = rows.get(kind)
        before = row.delivery if row is not None else DELIVERY_EACH
        if before == delivery:
            continue
        if row is None:
            db.session.add(MailPreference(user_id=user.id, kind=kind, delivery=delivery))
        else:
            row.delivery = delivery
        changes[kind] = (before, delivery)
    if changes:
        _audit(user, changes, by=by)
    db.session.flush()
    return changes


def _audit(user: User, changes: dict[str, tuple[str, str]], *, by: User) -> None:
    words = "; ".join(
        f"{MAIL_KIND_LABELS[kind]}: {DELIVERY_LABELS[before]} → {DELIVERY_LABELS[after]}"
        for kind, (before, after) in changes.items()
    )
    audit.record(
        "user.mail_preferences",
        object_type="user",
        object_id=user.id,
        summary=f"Mail preferences of {user.email} changed: {words}",
        actor=by,
        organisation_id=user.organisation_id,
        details={"changes": {kind: [before, after] for kind, (before, after) in changes.items()}},
    )
