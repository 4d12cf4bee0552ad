"""Forgotten passwords: a one-time link by mail, the same answer for every address, throttled in the database."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from ..extensions import db
from ..models import PasswordReset, PasswordResetRequest, SignInFailure, User
from ..models.types import utcnow
from ..models.vocabulary import LINK_REVOKED, LINK_UNKNOWN
from . import audit, links
from .auth import account_key, normalise_email
from .mail import public_url, queue_mail, render_mail
from .users import set_password

KEPT_FOR = timedelta(days=1)  # requests older than this no longer count towards any limit


class ResetError(ValueError):
    pass


def client_key(client: str) -> str:
    """The client's address, hashed: the throttle needs to count it, not to keep it."""
    return hashlib.sha256(f"client:{client}".encode()).hexdigest()


def _over_limit(address: str, client: str, now: datetime) -> str | None:
    """ "address" or "client" when that one has asked for too many links in the window, else None."""
    cfg = current_app.config
    since = now - timedelta(seconds=cfg["PASSWORD_RESET_WINDOW_SECONDS"])
    for limit, column, key in (
        ("address", PasswordResetRequest.address_key, address),
        ("client", PasswordResetRequest.client_key, client),
    ):
        count = db.session.execute(
            select(func.count()).select_from(PasswordResetRequest).where(column == key, PasswordResetRequest.at > since)
        ).scalar_one()
        if count >= cfg[f"PASSWORD_RESET_PER_{limit.upper()}"]:
            return limit
    return None


def request_reset(email: str, *, client: str, now: datetime | None = None) -> None:
    """Queue a reset link if the address is an active account and no limit is reached; otherwise nothing.

    The caller answers the same whatever happened here. The work is the same too, as far as it shows in the
    time taken: every request is counted, looks the address up and renders the mail; only the few inserts
    for a real link differ (no password hash is computed on either path).
    """
    now = now or utcnow()
    address = normalise_email(email)
    keys = account_key(address), client_key(client)
    throttled = _over_limit(*keys, now)
    db.session.add(PasswordResetRequest(address_key=keys[0], client_key=keys[1], at=now))
    db.session.execute(delete(PasswordResetRequest).where(PasswordResetRequest.at < now - KEPT_FOR))
    user = db.session.scalar(select(User).where(User.email == address))
    token, token_hash = links.new_token()
    expires_at = now + timedelta(seconds=current_app.config["PASSWORD_RESET_VALID_SECONDS"])
    parts = render_mail(
        "password_reset",
        link=public_url("auth.password_reset", token=token),
        name=user.name if user else "",
        expires_at=expires_at,
        minutes=current_app.config["PASSWORD_RESET_VALID_SECONDS"] // 60,
    )
    if throttled:
        _record(user, "password_reset.throttled", "not sent: too many requests", limit=throttled, client=client)
    elif user is not None and not user.active:
        _record(user, "password_reset.refused", "not sent: the account is deactivated")
    elif user is not None:
        db.session.add(PasswordReset(user=user, token_hash=token_hash, created_at=now, expires_at=expires_at))
        queue_mail(user.email, kind="password_reset", subject="Reset your password", parts=parts)
        _record(user, "password_reset.requested", "link sent")


def _record(user: User | None, action: str, outcome: str, **details: str) -> None:
    audit.record(
        action,
        object_type="user",
        object_id=user.id if user else None,
        summary=f"Password reset link {outcome}" + ("" if user else " (no account has that address)"),
        actor=None,
        organisation_id=user.organisation_id if user else None,
        details=details,
    )


def find(token: str, now: datetime | None = None) -> tuple[PasswordReset | None, str]:
    """The reset a link names and what following it does now; LINK_UNKNOWN for no such link."""
    if not links.looks_like_token(token):
        return None, LINK_UNKNOWN
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == links.hash_token(token)))
    if reset is None:
        return None, LINK_UNKNOWN
    if not reset.user.active:
        return reset, LINK_REVOKED
    return reset, reset.state(now or utcnow())


def reset_password(reset: PasswordReset, password: str, *, now: datetime | None = None) -> User:
    """Set the new password, use up this link and every other open one, end every session of the user.

    Raises ResetError when the link was used or expired in the meantime (only one of two simultaneous
    uses gets through), PasswordPolicyError for a password the rules refuse (the caller rolls back).
    """
    now = now or utcnow()
    user = reset.user
    if not user.active:
        raise ResetError("This link can no longer be used")
    claimed = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ResetError("This link can no longer be used")
    set_password(user, password, actor=user)  # rotates the session token: every other session ends
    others = update(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
    db.session.execute(others.values(used_at=now))
    # Whoever was locked out by failed sign-ins has just proved they hold the mailbox.
    db.session.execute(delete(SignInFailure).where(SignInFailure.account_key == account_key(user.email)))
    user.last_sign_in_at = now
    _record(user, "password_reset.used", "used: new password set, every other session ended")
    return user
