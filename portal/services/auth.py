"""Signing in and out: throttled per account in the database, so every worker sees the same count."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import AuditEvent, SignInFailure, User
from ..models.types import utcnow
from . import audit
from .passwords import hash_password, hasher, spend_verification_time, verify_password

SIGNED_IN = "user.signed_in"


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def account_key(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


@dataclass
class SignInResult:
    user: User | None = None
    throttled: bool = False


def recent_failures(key: str, now: datetime) -> int:
    window = timedelta(seconds=current_app.config["SIGN_IN_WINDOW_SECONDS"])
    return db.session.execute(
        select(func.count())
        .select_from(SignInFailure)
        .where(SignInFailure.account_key == key, SignInFailure.at > now - window)
    ).scalar_one()


def authenticate(email: str, password: str, *, now: datetime | None = None) -> SignInResult:
    """Check an e-mail and password; the caller commits (failures must be counted)."""
    now = now or utcnow()
    key = account_key(email)
    if recent_failures(key, now) >= current_app.config["SIGN_IN_MAX_FAILURES"]:
        return SignInResult(throttled=True)
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        spend_verification_time(password)
    elif user.active and verify_password(user.password_hash, password):
        if hasher().check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_sign_in_at = now
        db.session.execute(delete(SignInFailure).where(SignInFailure.account_key == key))
        audit.record(SIGNED_IN, object_type="user", object_id=user.id, summary="Signed in", actor=user)
        return SignInResult(user=user)
    db.session.add(SignInFailure(account_key=key, at=now))
    # Old failures are of no further use; keep the table small.
    db.session.execute(delete(SignInFailure).where(SignInFailure.at < now - timedelta(days=1)))
    return SignInResult()


def sign_out(user: User) -> None:
    """End this user's sessions everywhere: every copy of the old cookie stops working."""
    user.end_all_sessions()
    audit.record("user.signed_out", object_type="user", object_id=user.id, summary="Signed out", actor=user)


def sign_out_elsewhere(user: User) -> None:
    """End every session of this user; the caller signs this one in again with the new token."""
    user.end_all_sessions()
    audit.record(
        "user.signed_out_elsewhere",
        object_type="user",
        object_id=user.id,
        summary="Signed out everywhere else",
        actor=user,
    )


def recent_sign_ins(user: User, *, limit: int = 2) -> list[datetime]:
    """When this user last signed in, newest first: this session's sign-in, then the one before."""
    return list(
        db.session.scalars(
            select(AuditEvent.at)
            .where(AuditEvent.actor_id == user.id, AuditEvent.action == SIGNED_IN)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
