"""The administrator's pages about people: their account, roles (checked before they change), deactivation."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.loaders import load_user
from ..extensions import db
from ..forms.admin import ConfirmForm, UserRolesForm
from ..models import Organisation, User
from ..models.user import ROLE_LABELS
from ..services import mfa
from ..services import users as service
from ..services.audit_trail import describe_changes
from ..services.organisations import open_organisations


def user_view(user_id: int):
    user = load_user(user_id, check=User.can_manage)
    return render_template(
        "admin/user.html",
        user=user,
        role_labels=ROLE_LABELS,
        reactivate_form=ConfirmForm(formdata=None),
        mfa_enabled=mfa.is_enabled(user),
    )


def _organisations(user: User) -> list[Organisation]:
    """Organisations a partner may be put in: those not retired, and the one they are already in."""
    found = open_organisations()
    if user.organisation is not None and user.organisation not in found:
        found.append(user.organisation)
    return found


def _roles_form(user: User) -> tuple[UserRolesForm, dict[str, Organisation]]:
    choices = {str(organisation.id): organisation for organisation in _organisations(user)}
    if request.method == "POST":
        form = UserRolesForm(formdata=request.form)
    else:
        form = UserRolesForm(
            formdata=None, data={"roles": sorted(user.roles), "organisation": str(user.organisation_id or "")}
        )
    form.offer_organisations(
        [
            (key, f"{organisation.name} (retired)" if organisation.is_retired else organisation.name)
            for key, organisation in choices.items()
        ]
    )
    return form, choices


def _roles_page(user: User, form: UserRolesForm, status: int = 200):
    return render_template("admin/user_roles.html", user=user, form=form), status


def user_roles(user_id: int):
    """Roles and organisation: the form, then a check of what will change, then the change."""
    user = load_user(user_id, check=User.can_manage)
    form, organisations = _roles_form(user)
    if request.method != "POST":
        return _roles_page(user, form)
    if not form.validate():
        return _roles_page(user, form, 422)
    organisation = organisations.get(form.organisation.data or "")
    try:
        changes = service.role_changes(user, roles=form.roles.data, organisation=organisation, actor=current_user)
        if changes and form.confirmed.data == "yes":
            service.change_roles(user, roles=form.roles.data, organisation=organisation, actor=current_user)
    except service.UserError as error:
        db.session.rollback()
        field = getattr(form, error.field, None) if error.field else None
        (field.errors if field is not None else form.form_errors).append(str(error))
        return _roles_page(user, form, 422)
    if not changes:
        flash(f"Nothing was changed for {user.email}.")
        return redirect(url_for("admin.user_view", user_id=user.id))
    if form.confirmed.data != "yes":
        return render_template("admin/user_roles_check.html", user=user, form=form, changes=describe_changes(changes))
    db.session.commit()
    flash(f"The roles of {user.email} have been changed.")
    return redirect(url_for("admin.user_view", user_id=user.id))


def user_deactivate(user_id: int):
    """Check, then deactivate: the person can no longer sign in and every session they have ends."""
    user = load_user(user_id, check=User.can_manage)
    form = ConfirmForm()
    refusal = user.deactivation_refusal(current_user)
    if request.method == "POST" and refusal is None and form.validate():
        service.deactivate(user, actor=current_user)
        db.session.commit()
        flash(f"{user.email} has been deactivated and signed out everywhere.")
        return redirect(url_for("admin.user_view", user_id=user.id))
    page = render_template("admin/user_deactivate.html", user=user, form=form, refusal=refusal)
    return page, 409 if refusal else 200


def user_reactivate(user_id: int):
    user = load_user(user_id, check=User.can_manage)
    form = ConfirmForm()
    target = redirect(url_for("admin.user_view", user_id=user.id), 303)
    if not form.validate() or not user.can_reactivate(current_user):
        flash(f"{user.email} is not deactivated: nothing was changed.")
        return target
    service.reactivate(user, actor=current_user)
    db.session.commit()
    flash(f"{user.email} has been reactivated and can sign in again with the password they had.")
    return target


def user_mfa_reset(user_id: int):
    """Check, then reset the second factor (a lost phone): every session ends; they set it up again at sign-in."""
    user = load_user(user_id, check=User.can_manage)
    form = ConfirmForm()
    if not mfa.is_enabled(user):
        flash(f"{user.email} has no authenticator app set up: nothing was changed.")
        return redirect(url_for("admin.user_view", user_id=user.id), 303)
    if request.method == "POST" and form.validate():
        mfa.reset(user, actor=current_user)
        db.session.commit()
        flash(f"The authenticator app of {user.email} has been reset and they have been signed out everywhere.")
        return redirect(url_for("admin.user_view", user_id=user.id), 303)
    return render_template("admin/user_mfa_reset.html", user=user, form=form, required=mfa.required_for(user))
