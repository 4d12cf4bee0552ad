"""Signing in and out: throttled per account and per client address in the database, so every worker sees the
same counts, and every attempt written to the security log (never the e-mail typed)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, text

from ..extensions import db
from ..models import AuditEvent, SignInFailure, User
from ..models.types import utcnow
from ..security_log import security_event
from . import audit
from .passwords import dummy_hash, hash_password, hash_slot, hasher, verify_password

SIGNED_IN = "user.signed_in"


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def account_key(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


ACCOUNT = "account"
CLIENT = "client"


def client_key(client: str) -> str:
    """The client's address, hashed: the limit needs to count it, not to keep it."""
    return hashlib.sha256(f"client:{client}".encode()).hexdigest()


@dataclass
class SignInResult:
    user: User | None = None
    throttled: str | None = None  # ACCOUNT or CLIENT: that limit is reached, and nothing was hashed
    busy: bool = False  # no turn to hash came free in time: nothing was hashed or counted


def recent_failures(key: str, now: datetime, *, column=SignInFailure.account_key) -> int:
    window = timedelta(seconds=current_app.config["SIGN_IN_WINDOW_SECONDS"])
    return db.session.execute(
        select(func.count()).select_from(SignInFailure).where(column == key, SignInFailure.at > now - window)
    ).scalar_one()


def _lock(key: str) -> None:
    """PostgreSQL: one transaction at a time counts and adds failures for this key (SQLite's BEGIN IMMEDIATE
    already serialises them), so concurrent guesses cannot overrun a limit."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _limit_reached(key: str, by_client: str, now: datetime) -> str | None:
    cfg = current_app.config
    # Always the client's lock before the account's, so two sign-ins never wait for each other's.
    for limit, column, value, most in (
        (CLIENT, SignInFailure.client_key, by_client, cfg["SIGN_IN_MAX_PER_CLIENT"]),
        (ACCOUNT, SignInFailure.account_key, key, cfg["SIGN_IN_MAX_FAILURES"]),
    ):
        _lock(value)
        if recent_failures(value, now, column=column) >= most:
            return limit
    return None


def authenticate(email: str, password: str, *, client: str = "", now: datetime | None = None) -> SignInResult:
    """Check an e-mail and password sent from a client address; the caller commits what follows.

    This one commits too, once, before hashing: the attempt is counted as a failure (under the limits' locks)
    and committed, so the slow argon2 hash runs outside any transaction and SQLite's write lock is not held
    meanwhile. A correct password then clears the account's failures. Every path hashes exactly once (an unknown
    or deactivated account too) unless a limit is reached or the process is busy, which answer before hashing.
    """
    now = now or utcnow()
    result, renewed = _check_password(email, password, client=client, now=now, event="sign_in")
    if result.user is None:
        return result
    return SignInResult(user=_signed_in(result.user, account_key(email), renewed, now))


def confirm_identity(user: User, password: str, *, client: str = "", now: datetime | None = None) -> SignInResult:
    """A signed-in person's password again before an administrator's action (auth/reauth.py): counted, limited
    and hashed exactly as a sign-in is, with the same rows, but not a new sign-in. The caller commits."""
    now = now or utcnow()
    result, renewed = _check_password(user.email, password, client=client, now=now, event="reauth")
    if result.user is None:
        return result
    if renewed:
        user.password_hash = renewed
    db.session.execute(delete(SignInFailure).where(SignInFailure.account_key == account_key(user.email)))
    return result


def _check_password(
    email: str, password: str, *, client: str, now: datetime, event: str
) -> tuple[SignInResult, str | None]:
    """The limits, the counted attempt and the one hash shared by signing in and confirming who you are; the
    user when the password is right (nothing cleared yet), and the new hash when the stored one is out of date."""
    key, by_client = account_key(email), client_key(client)
    limit = _limit_reached(key, by_client, now)
    if limit:
        security_event(f"{event}.throttled", reason=limit)
        return SignInResult(throttled=limit), None
    attempt = SignInFailure(account_key=key, client_key=by_client, at=now)
    db.session.add(attempt)
    # Old failures are of no further use; keep the table small.
    db.session.execute(delete(SignInFailure).where(SignInFailure.at < now - timedelta(days=1)))
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    stored, user_id, active = (user.password_hash, user.id, user.active) if user else (dummy_hash(), None, False)
    db.session.flush()
    attempt_id = attempt.id
    db.session.commit()  # counted; no lock is held while hashing
    with hash_slot() as free:
        correct = free and verify_password(stored, password)
        renewed = hash_password(password) if correct and active and hasher().check_needs_rehash(stored) else None
    if not free:
        db.session.execute(delete(SignInFailure).where(SignInFailure.id == attempt_id))  # never evaluated
        security_event(f"{event}.busy")
        return SignInResult(busy=True), None
    if user is None or not correct or not active:
        reason = "unknown_account" if user is None else "wrong_password" if not correct else "deactivated"
        security_event(f"{event}.failed", user_id=user_id, reason=reason)
        return SignInResult(), None
    return SignInResult(user=user), renewed


def _signed_in(user: User, key: str, renewed: str | None, now: datetime) -> User:
    if renewed:
        user.password_hash = renewed
    user.last_sign_in_at = now
    db.session.execute(delete(SignInFailure).where(SignInFailure.account_key == key))
    audit.record(SIGNED_IN, object_type="user", object_id=user.id, summary="Signed in", actor=user)
    security_event("sign_in.succeeded", user_id=user.id)
    return user


def sign_out(user: User) -> None:
    """End this user's sessions everywhere: every copy of the old cookie stops working."""
    user.end_all_sessions()
    audit.record("user.signed_out", object_type="user", object_id=user.id, summary="Signed out", actor=user)
    security_event("sign_out", user_id=user.id)


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
