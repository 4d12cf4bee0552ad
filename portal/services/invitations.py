"""Invitations: an administrator invites a person; the person sets a password with the link and is in."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..models import Invitation, Organisation, User
from ..models.types import utcnow
from ..models.user import PARTNER, ROLE_LABELS, ROLES
from ..models.vocabulary import LINK_EXPIRED, LINK_UNKNOWN, LINK_VALID
from . import audit, links
from .auth import normalise_email
from .mail import public_url, queue_mail, render_mail
from .users import create_user

EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.org"


class InvitationError(ValueError):
    """A reason an invitation cannot be made or used; `field` names the form field it belongs beside."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _check(email: str, roles: list[str], organisation: Organisation | None) -> str:
    """The rules of services/users.create_user, checked before anyone is sent a link, with form messages."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise InvitationError(EMAIL_FORMAT, "email")
    if not roles or set(roles) - set(ROLES):
        raise InvitationError("Select at least one role", "roles")
    if PARTNER in roles and organisation is None:
        raise InvitationError("Select the partner's organisation", "organisation")
    if PARTNER not in roles and organisation is not None:
        raise InvitationError("Only partners belong to an organisation: select no organisation", "organisation")
    # Staff may know who has an account (the public pages never say).
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise InvitationError(f"There is already an account for {email}", "email")
    if db.session.scalar(select(Invitation.id).where(*_open(email))) is not None:
        raise InvitationError(f"{email} has already been invited: send that invitation again from the list", "email")
    return email


def _open(email: str):
    return (Invitation.email == email, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))


def invite(
    email: str, *, roles: list[str], organisation: Organisation | None, by: User, now: datetime | None = None
) -> Invitation:
    """Record the invitation and queue its mail in the caller's transaction."""
    now = now or utcnow()
    email = _check(email, roles, organisation)
    invitation = Invitation(
        email=email,
        roles=sorted(set(roles)),
        organisation=organisation,
        invited_by=by,
        created_at=now,
        token_hash="",
        expires_at=now,
    )
    db.session.add(invitation)
    _new_link(invitation, now)
    audit.record(
        "invitation.created",
        object_type="invitation",
        object_id=invitation.id,
        summary=f"Invited {email} ({', '.join(invitation.roles)})",
        actor=by,
        organisation_id=organisation.id if organisation else None,
        details=_details(invitation),
    )
    return invitation


def _new_link(invitation: Invitation, now: datetime) -> None:
    """A new token (the old link stops working), a fresh expiry, and the mail with the link."""
    token, invitation.token_hash = links.new_token()
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=current_app.config["INVITATION_VALID_DAYS"])
    db.session.flush()
    parts = render_mail(
        "invitation",
        link=public_url("auth.invitation_accept", token=token),
        roles=[ROLE_LABELS[role] for role in ROLES if role in invitation.roles],
        organisation=invitation.organisation,
        expires_at=invitation.expires_at,
        partnership=current_app.config["PARTNERSHIP_NAME"],
    )
    subject = f"Set up your account for {current_app.config['SERVICE_NAME']}"
    queue_mail(invitation.email, kind="invitation", subject=subject, parts=parts)


def _details(invitation: Invitation) -> dict:
    return {
        "email": invitation.email,
        "roles": invitation.roles,
        "organisation": invitation.organisation.short_name if invitation.organisation else None,
        "expires_at": invitation.expires_at.isoformat(),
    }


def resend(invitation: Invitation, *, by: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    if invitation.state(now) not in (LINK_VALID, LINK_EXPIRED):
        raise InvitationError("This invitation has been accepted or withdrawn, so it cannot be sent again")
    _new_link(invitation, now)
    audit.record(
        "invitation.resent",
        object_type="invitation",
        object_id=invitation.id,
        summary=f"Sent the invitation to {invitation.email} again",
        actor=by,
        organisation_id=invitation.organisation_id,
        details=_details(invitation),
    )


def revoke(invitation: Invitation, *, by: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    if invitation.state(now) not in (LINK_VALID, LINK_EXPIRED):
        raise InvitationError("This invitation has been accepted or withdrawn already")
    invitation.revoked_at = now
    audit.record(
        "invitation.revoked",
        object_type="invitation",
        object_id=invitation.id,
        summary=f"Withdrew the invitation to {invitation.email}",
        actor=by,
        organisation_id=invitation.organisation_id,
        details={"before": {"revoked_at": None}, "after": {"revoked_at": now.isoformat()}},
    )


def find(token: str, now: datetime | None = None) -> tuple[Invitation | None, str]:
    """The invitation a link names and what following it does now; LINK_UNKNOWN for no such link."""
    if not links.looks_like_token(token):
        return None, LINK_UNKNOWN
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == links.hash_token(token)))
    if invitation is None:
        return None, LINK_UNKNOWN
    return invitation, invitation.state(now or utcnow())


def waiting(now: datetime | None = None) -> list[Invitation]:
    """Invitations neither accepted nor withdrawn (expired ones too, to send again), newest first."""
    return list(
        db.session.scalars(
            select(Invitation)
            .where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
            .order_by(Invitation.sent_at.desc(), Invitation.id.desc())
        )
    )


def accept(invitation: Invitation, *, name: str, password: str, now: datetime | None = None) -> User:
    """Create the invited account with the person's own password; the link is used up in the same step.

    Raises InvitationError when the link was used, withdrawn or expired in the meantime (the conditional
    update lets only one of two simultaneous acceptances through), UserError when an account for the
    address has been made some other way, PasswordPolicyError for a password the rules refuse.
    """
    now = now or utcnow()
    claimed = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvitationError("This invitation can no longer be used")
    user = create_user(
        invitation.email,
        roles=list(invitation.roles),
        password=password,
        organisation=invitation.organisation,
        name=name.strip(),
        by_themselves=True,
    )
    invitation.user = user
    user.last_sign_in_at = now
    audit.record(
        "invitation.accepted",
        object_type="invitation",
        object_id=invitation.id,
        summary=f"{invitation.email} accepted the invitation and set a password",
        actor=user,
        organisation_id=invitation.organisation_id,
        details={"user_id": user.id},
    )
    return user
