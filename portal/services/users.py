"""Creating people and setting passwords (command line and admin pages share these)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Organisation, User, UserRole
from ..models.user import PARTNER, ROLES
from . import audit
from .auth import normalise_email
from .passwords import check_new_password, hash_password


class UserError(ValueError):
    pass


def create_user(
    email: str,
    *,
    roles: list[str],
    password: str,
    organisation: Organisation | None = None,
    name: str = "",
    actor: User | None = None,
) -> User:
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise UserError("Enter an e-mail address in the correct format, like name@example.org")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise UserError(f"Role must be one of: {', '.join(ROLES)}")
    if PARTNER in roles and organisation is None:
        raise UserError("A partner must belong to an organisation: give --org SHORT_NAME")
    if PARTNER not in roles and organisation is not None:
        raise UserError("Only partners belong to an organisation")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserError(f"A user with the e-mail {email} already exists")
    check_new_password(password, min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    user = User(
        email=email,
        name=name or "",
        password_hash=hash_password(password),
        organisation=organisation,
        role_rows=[UserRole(role=role) for role in sorted(set(roles))],
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.created",
        object_type="user",
        object_id=user.id,
        summary=f"Created user {email} ({', '.join(sorted(set(roles)))})",
        actor=actor,
        organisation_id=organisation.id if organisation else None,
        details={
            "email": email,
            "roles": sorted(set(roles)),
            "organisation": organisation.short_name if organisation else None,
        },
    )
    return user


def set_password(user: User, password: str, *, actor: User | None = None) -> None:
    """Change a password and end every session the user had."""
    check_new_password(password, min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    user.password_hash = hash_password(password)
    user.end_all_sessions()
    audit.record(
        "user.password_set",
        object_type="user",
        object_id=user.id,
        summary=f"Password changed for {user.email}",
        actor=actor,
    )


def deactivate(user: User, *, actor: User | None = None) -> None:
    user.active = False
    user.end_all_sessions()
    audit.record(
        "user.deactivated", object_type="user", object_id=user.id, summary=f"Deactivated {user.email}", actor=actor
    )
