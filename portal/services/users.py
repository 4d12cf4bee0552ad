"""People's accounts: creating them, passwords, names, roles, deactivation (command line and pages share these)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Organisation, User, UserRole
from ..models.user import ADMIN, NOT_DEACTIVATED, OWN_ADMIN_ROLE, PARTNER, ROLES
from ..security_log import security_event
from . import audit
from .auth import normalise_email
from .passwords import check_new_password, hash_password

NAME_LIMIT = 200


class UserError(ValueError):
    """A change refused; `field` names the form field it belongs beside, when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def check_roles(roles: Iterable[str], organisation: Organisation | None) -> list[str]:
    """The roles, sorted, when they are a valid set for someone in `organisation` (None for staff)."""
    roles = sorted(set(roles))
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise UserError(f"Role must be one of: {', '.join(ROLES)}", "roles")
    if PARTNER in roles and organisation is None:
        raise UserError("A partner must belong to an organisation", "organisation")
    if PARTNER not in roles and organisation is not None:
        raise UserError("Only partners belong to an organisation", "organisation")
    return roles


def _open_organisation(organisation: Organisation | None, *, keeping: int | None = None) -> None:
    """Retired organisations take no one new (someone already in one may stay)."""
    if organisation is not None and organisation.is_retired and organisation.id != keeping:
        raise UserError(f"{organisation.name} is retired: choose another organisation", "organisation")


def create_user(
    email: str,
    *,
    roles: list[str],
    password: str,
    organisation: Organisation | None = None,
    name: str = "",
    actor: User | None = None,
    by_themselves: bool = False,
) -> User:
    """Create an account; `by_themselves` when the person made it (accepting an invitation), so the audit
    trail names them rather than the portal's command line."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise UserError("Enter an e-mail address in the correct format, like name@example.org")
    roles = check_roles(roles, organisation)
    _open_organisation(organisation)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserError(f"A user with the e-mail {email} already exists")
    check_new_password(password, min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    user = User(
        email=email,
        name=name or "",
        password_hash=hash_password(password),
        organisation=organisation,
        role_rows=[UserRole(role=role) for role in roles],
    )
    db.session.add(user)
    db.session.flush()
    _privilege_event("user.created", user, actor=user if by_themselves else actor, roles_after=roles)
    audit.record(
        "user.created",
        object_type="user",
        object_id=user.id,
        summary=f"Created user {email} ({', '.join(roles)})",
        actor=user if by_themselves else actor,
        organisation_id=organisation.id if organisation else None,
        details={
            "email": email,
            "roles": roles,
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


def _privilege_event(event: str, user: User, *, actor: User | None, **fields) -> None:
    """The security log's line for a change of what someone may do: who did it to whom (ids, never e-mails)."""
    security_event(event, user_id=actor.id if actor is not None else None, target_user_id=user.id, **fields)


def _audit_change(user: User, action: str, summary: str, changes: dict[str, list[Any]], actor: User | None) -> None:
    audit.record(
        action,
        object_type="user",
        object_id=user.id,
        summary=summary,
        actor=actor,
        organisation_id=user.organisation_id,
        details={"changes": changes},
    )


def deactivate(user: User, *, actor: User | None = None) -> None:
    """Stop someone signing in and end every session they have; their records stay."""
    refusal = user.deactivation_refusal(actor)
    if refusal:
        raise UserError(refusal)
    user.active = False
    user.end_all_sessions()
    _privilege_event("user.deactivated", user, actor=actor)
    _audit_change(user, "user.deactivated", f"Deactivated {user.email}", {"active": [True, False]}, actor)


def reactivate(user: User, *, actor: User | None = None) -> None:
    """Let someone sign in again (with the password they had)."""
    if user.active:
        raise UserError(NOT_DEACTIVATED)
    user.active = True
    _privilege_event("user.reactivated", user, actor=actor)
    _audit_change(user, "user.reactivated", f"Reactivated {user.email}", {"active": [False, True]}, actor)


def rename(user: User, name: str, *, actor: User | None = None) -> bool:
    """Change the name a person is shown by; False when it is already that."""
    name = " ".join((name or "").split())
    if not name:
        raise UserError("Enter your name", "name")
    if len(name) > NAME_LIMIT:
        raise UserError(f"Name must be {NAME_LIMIT} characters or fewer", "name")
    if name == user.name:
        return False
    changes: dict[str, list[Any]] = {"name": [user.name or None, name]}
    user.name = name
    _audit_change(user, "user.renamed", f"Name changed for {user.email}", changes, actor)
    return True


def role_changes(
    user: User, *, roles: Iterable[str], organisation: Organisation | None, actor: User | None
) -> dict[str, list[Any]]:
    """What giving someone these roles (and organisation) would change, as {field: [before, after]}; UserError
    when it is not allowed. Nothing is changed."""
    roles = check_roles(roles, organisation)
    _open_organisation(organisation, keeping=user.organisation_id)
    if actor is not None and ADMIN in user.roles and ADMIN not in roles and not user.can_remove_admin_role(actor):
        raise UserError(OWN_ADMIN_ROLE, "roles")
    before = {"roles": sorted(user.roles), "organisation": user.organisation.short_name if user.organisation else None}
    after = {"roles": roles, "organisation": organisation.short_name if organisation else None}
    return {key: [before[key], after[key]] for key in before if before[key] != after[key]}


def change_roles(user: User, *, roles: Iterable[str], organisation: Organisation | None, actor: User | None) -> bool:
    """Give someone these roles (and, for a partner, this organisation); False when nothing changes."""
    roles = sorted(set(roles))
    changes = role_changes(user, roles=roles, organisation=organisation, actor=actor)
    if not changes:
        return False
    before = sorted(user.roles)
    kept = [row for row in user.role_rows if row.role in roles]
    user.role_rows = kept + [UserRole(role=role) for role in roles if role not in user.roles]
    user.organisation = organisation
    db.session.flush()
    _privilege_event("user.roles_changed", user, actor=actor, roles_before=before, roles_after=roles)
    _audit_change(user, "user.roles_changed", f"Roles changed for {user.email}", changes, actor)
    return True
