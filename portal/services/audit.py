"""Write audit events in the caller's transaction, so a change and its record commit together."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditEvent, User


def record(
    action: str,
    *,
    object_type: str,
    object_id: int | None,
    summary: str,
    actor: User | None = None,
    organisation_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:500],
        actor_id=getattr(actor, "id", None),
        organisation_id=organisation_id,
        details=details or {},
    )
    db.session.add(event)
    return event
