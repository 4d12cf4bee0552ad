"""The security log: one JSON line per security event, on the `portal.security` logger.

Each line carries the event's name, the time, the request id, the user id where known, the client address and
the path, plus the few named fields an event adds. Never the e-mail typed, a password, a code, a token or any
narrative text: callers pass ids and kinds only, and `security_event` refuses fields it does not know.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

logger = logging.getLogger("portal.security")

# The fields an event may add to the standard ones; anything else is a programming error.
ALLOWED_FIELDS = frozenset(
    {
        "outcome",
        "reason",
        "role",
        "roles_before",
        "roles_after",
        "target_user_id",
        "method",
        "status",
        "endpoint",
        "origin",  # the site a refused cross-site form came from (a header, never anything typed)
    }
)


def request_id() -> str | None:
    """The id of this request: the proxy's X-Request-Id when it sent a sane one, otherwise one made here."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        supplied = request.headers.get("X-Request-Id", "")
        g.request_id = supplied if 0 < len(supplied) <= 64 and supplied.isascii() and supplied.isprintable() else None
        g.request_id = g.request_id or secrets.token_hex(8)
    return g.request_id


def _current_user_id() -> int | None:
    # Only a user this request has already loaded: logging must never query the database.
    user = g.get("_login_user") if has_request_context() else None
    return getattr(user, "id", None) if user is not None and user.is_authenticated else None


def security_event(event: str, *, user_id: int | None = None, **fields) -> None:
    unknown = set(fields) - ALLOWED_FIELDS
    if unknown:
        raise ValueError(f"security_event does not log {sorted(unknown)}")
    line: dict[str, object] = {"event": event, "at": datetime.now(UTC).isoformat(timespec="milliseconds")}
    if has_request_context():
        line.update(
            request_id=request_id(),
            client=request.remote_addr,
            path=request.path,
            method=request.method,
        )
    line["user_id"] = user_id if user_id is not None else _current_user_id()
    line.update(fields)
    logger.warning(json.dumps(line, sort_keys=True, default=str))
    if has_request_context():
        g.security_event_logged = True


def register(app: Flask) -> None:
    @app.after_request
    def _request_id_header(response):
        rid = request_id()
        if rid:
            response.headers["X-Request-Id"] = rid
        return response

    @app.after_request
    def _input_refused(response):
        # Every form answers 422 when what was sent fails its checks (ASVS 16.3.3: log validation failures). Only
        # that it happened and where: never the fields' values. A request that logged its own event (a failed
        # sign-in, say) is not logged twice.
        if response.status_code == 422 and not g.get("security_event_logged"):
            security_event("input.refused", status=422, endpoint=request.endpoint)
        return response
