"""Invitations: invite a person with their roles (and organisation), send a link again, withdraw one."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..auth.loaders import load_invitation
from ..extensions import db
from ..forms.invitations import InvitationForm
from ..models import Organisation
from ..models.types import utcnow
from ..models.user import ROLE_LABELS
from ..services import invitations as service


def _list_page(status: int = 200, error: str | None = None):
    now = utcnow()
    return (
        render_template(
            "admin/invitations.html", invitations=service.waiting(now), now=now, role_labels=ROLE_LABELS, error=error
        ),
        status,
    )


def invitation_list():
    return _list_page()


def invitation_new():
    form = InvitationForm()
    form.set_organisations(db.session.scalars(select(Organisation).order_by(Organisation.name)))
    if form.validate_on_submit():
        organisation = db.session.get(Organisation, int(form.organisation.data)) if form.organisation.data else None
        try:
            invitation = service.invite(
                form.email.data, roles=form.roles.data, organisation=organisation, by=current_user
            )
        except service.InvitationError as error:
            db.session.rollback()
            field = getattr(form, error.field or "", None)
            (field.errors if field is not None else form.form_errors).append(str(error))
        else:
            email = invitation.email
            db.session.commit()
            flash(f"Invited {email}. The email with their link is in the outbox.")
            return redirect(url_for("admin.invitation_list"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/invitation_new.html", form=form), status


def invitation_resend(invitation_id: int):
    invitation = load_invitation(invitation_id)
    try:
        service.resend(invitation, by=current_user)
    except service.InvitationError as error:
        db.session.rollback()
        return _list_page(409, str(error))
    email = invitation.email
    db.session.commit()
    flash(f"Sent a new link to {email}. The link in the earlier email no longer works.")
    return redirect(url_for("admin.invitation_list"))


def invitation_revoke(invitation_id: int):
    invitation = load_invitation(invitation_id)
    if not invitation.can_revoke(current_user, utcnow()):
        return _list_page(409, "This invitation has been accepted or withdrawn already")
    if request.method == "POST":
        email = invitation.email
        service.revoke(invitation, by=current_user)
        db.session.commit()
        flash(f"Withdrew the invitation to {email}. Its link no longer works.")
        return redirect(url_for("admin.invitation_list"))
    role_names = [ROLE_LABELS[role] for role in invitation.roles]
    return render_template("admin/invitation_revoke.html", invitation=invitation, role_names=role_names)
