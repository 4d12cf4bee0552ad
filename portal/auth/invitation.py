"""Accepting an invitation: the person invited chooses a password (and gives their name) and is signed in."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_login import login_user

from ..extensions import db
from ..forms.invitations import InvitationAcceptForm
from ..models.user import ROLE_LABELS
from ..models.vocabulary import LINK_USED
from ..services import invitations as service
from ..services.passwords import PasswordPolicyError
from ..services.users import UserError
from .loaders import load_invitation_link, refuse_link
from .views import home_url


def invitation_accept(token: str):
    invitation = load_invitation_link(token)
    form = InvitationAcceptForm()
    if form.validate_on_submit():
        try:
            user = service.accept(invitation, name=form.name.data, password=form.password.data)
        except PasswordPolicyError as error:
            db.session.rollback()
            form.password.errors.append(str(error))
        except service.InvitationError:
            db.session.rollback()  # used, withdrawn or expired meanwhile: the link's page now says which
            return redirect(url_for("auth.invitation_accept", token=token))
        except UserError:
            db.session.rollback()  # an account was made for the address some other way: sign in with it
            refuse_link("invitation", LINK_USED)
        else:
            db.session.commit()
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(user)
            flash("Your account is set up and you are signed in.")
            return redirect(home_url(user))
    status = 422 if form.is_submitted() else 200
    role_names = [ROLE_LABELS[role] for role in invitation.roles]
    page = render_template("auth/invitation_accept.html", form=form, invitation=invitation, role_names=role_names)
    return page, status
