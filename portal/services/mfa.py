"""The second factor: TOTP codes from an authenticator app (RFC 6238, pyotp) and single-use recovery codes.

Decisions:
- The TOTP secret is stored as it is (base32), not encrypted. The dependencies hold no vetted authenticated
  cipher (no `cryptography`), a hand-made one would be worse than none, and a key derived from SECRET_KEY would
  lock every person out when the key is rotated. Whoever reads the database can already read everything the
  second factor protects; it guards against a stolen password, not a stolen database.
- Recovery codes are 80 random bits each, so a fast hash (SHA-256, as for the links in mail) cannot be
  brute-forced; a slow argon2 hash per code would cost ten argon2 checks per attempt.
- A wrong code counts toward the same per-account throttle as a wrong password (services/auth.py).
Services flush; the views commit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..models import RecoveryCode, SecondFactor, SignInFailure, User
from ..models.types import utcnow
from ..security_log import security_event
from . import audit
from .auth import account_key, recent_failures
from .links import hash_token

STEP_SECONDS = 30
ALLOWED_DRIFT_STEPS = 1  # a code from the step before or after now is accepted, for clocks a little apart
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols, no 0/O or 1/I to misread
RECOVERY_CODE_LENGTH = 16  # 16 × 5 bits = 80 bits
ACCEPTED, WRONG, REPLAYED = "accepted", "wrong", "replayed"


def required_for(user: User) -> bool:
    return user.has_role(*current_app.config["MFA_REQUIRED_ROLES"])


def factor_of(user: User) -> SecondFactor | None:
    return db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))


def is_enabled(user: User) -> bool:
    factor = factor_of(user)
    return factor is not None and factor.is_enabled


def needs_second_factor(user: User) -> bool:
    """After the password: a code (MFA on), or setting it up first (MFA required for the role)."""
    return required_for(user) or is_enabled(user)


# -- setting it up -------------------------------------------------------------------------------


def begin_enrolment(user: User) -> SecondFactor:
    """The secret being set up: the same one until it is confirmed, so reloading the page keeps the QR code."""
    factor = factor_of(user)
    if factor is None:
        factor = SecondFactor(user_id=user.id, secret=pyotp.random_base32())
        db.session.add(factor)
        db.session.flush()
    return factor


def provisioning_uri(user: User, factor: SecondFactor) -> str:
    return pyotp.TOTP(factor.secret).provisioning_uri(name=user.email, issuer_name=current_app.config["SERVICE_NAME"])


def qr_code_data_uri(uri: str) -> str:
    """An SVG QR code as a data: URI, made here on the server (the CSP allows data: images, no script)."""
    return segno.make(uri, error="m", micro=False).svg_data_uri(scale=5, border=4)


def grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(user: User, code: str, *, now: datetime | None = None) -> list[str] | None:
    """Turn MFA on when the code matches the secret being set up; the ten recovery codes, shown once."""
    now = now or utcnow()
    factor = factor_of(user)
    if factor is None or factor.is_enabled:
        return None
    step = matching_step(factor.secret, code, now)
    if step is None:
        record_wrong_code(user, now, reason="enrolment")
        return None
    factor.enabled_at = now
    factor.last_step = step
    codes = _new_recovery_codes(user)
    audit.record(
        "user.mfa_enabled",
        object_type="user",
        object_id=user.id,
        summary="Set up an authenticator app for signing in",
        actor=user,
    )
    security_event("mfa.enrolled", user_id=user.id)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_random_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_token(code)) for code in codes)
    db.session.flush()
    return [f"{code[:4]}-{code[4:8]}-{code[8:12]}-{code[12:]}" for code in codes]


def _random_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


# -- signing in ----------------------------------------------------------------------------------


def normalise_code(code: str | None) -> str:
    return "".join((code or "").split()).replace("-", "").upper()


def matching_step(secret: str, code: str | None, now: datetime) -> int | None:
    """The time step whose code this is, within one step either side of now; None when it matches none."""
    code = normalise_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - ALLOWED_DRIFT_STEPS, current + ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def code_key(user: User) -> str:
    """The throttle's key for wrong codes alone. A correct password clears the account's failures
    (services/auth.py), so without this someone holding the password could guess codes without end."""
    return hashlib.sha256(f"second-factor:{user.id}".encode()).hexdigest()


def throttled(user: User, now: datetime | None = None) -> bool:
    now = now or utcnow()
    failures = max(recent_failures(account_key(user.email), now), recent_failures(code_key(user), now))
    return failures >= current_app.config["SIGN_IN_MAX_FAILURES"]


def record_wrong_code(user: User, now: datetime, *, reason: str) -> None:
    """Counted twice: toward the account's throttle (the password too is refused) and toward the codes' own."""
    db.session.add(SignInFailure(account_key=account_key(user.email), at=now))
    db.session.add(SignInFailure(account_key=code_key(user), at=now))
    security_event("mfa.code_rejected", user_id=user.id, reason=reason)


def _clear_wrong_codes(user: User) -> None:
    db.session.execute(delete(SignInFailure).where(SignInFailure.account_key == code_key(user)))


def verify_code(user: User, code: str | None, *, now: datetime | None = None) -> str:
    """ACCEPTED, WRONG or REPLAYED (a code already used, or one older than it). Wrong and replayed count as
    failures toward the throttle."""
    now = now or utcnow()
    factor = factor_of(user)
    if factor is None or not factor.is_enabled:
        return WRONG
    step = matching_step(factor.secret, code, now)
    if step is None:
        record_wrong_code(user, now, reason=WRONG)
        return WRONG
    if not factor.accepts_step(step):
        record_wrong_code(user, now, reason=REPLAYED)
        return REPLAYED
    factor.last_step = step
    _clear_wrong_codes(user)
    security_event("mfa.code_accepted", user_id=user.id)
    return ACCEPTED


def use_recovery_code(user: User, code: str | None, *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    found = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_token(normalise_code(code)),
            RecoveryCode.used_at.is_(None),
        )
    )
    if found is None or not is_enabled(user):
        record_wrong_code(user, now, reason="recovery_code")
        return False
    found.used_at = now
    _clear_wrong_codes(user)
    audit.record(
        "user.mfa_recovery_code_used",
        object_type="user",
        object_id=user.id,
        summary=f"Signed in with a recovery code ({recovery_codes_left(user)} left)",
        actor=user,
    )
    security_event("mfa.recovery_code_used", user_id=user.id)
    return True


def recovery_codes_left(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


# -- turning it off ------------------------------------------------------------------------------


@dataclass
class Removal:
    action: str
    summary: str
    event: str


RESET = Removal("user.mfa_reset", "Reset the second factor of {email}: they set it up again at next sign-in", "reset")
TURNED_OFF = Removal("user.mfa_turned_off", "Turned off signing in with an authenticator app", "turned_off")


def _remove(user: User, actor: User, removal: Removal) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    user.end_all_sessions()
    audit.record(
        removal.action,
        object_type="user",
        object_id=user.id,
        summary=removal.summary.format(email=user.email),
        actor=actor,
        organisation_id=user.organisation_id,
    )
    security_event(f"mfa.{removal.event}", user_id=actor.id, target_user_id=user.id)


def reset(user: User, *, actor: User) -> None:
    """An administrator's reset (a lost phone): the factor and codes go, and every session of the person ends."""
    _remove(user, actor, RESET)


def turn_off(user: User) -> None:
    """The person's own choice, when their role does not require it; the caller signs this session in again."""
    _remove(user, user, TURNED_OFF)
