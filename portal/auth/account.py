"""Your account, for everyone signed in: your name, your password (its own page) and your sessions."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from ..extensions import db
from ..forms.account import NameChangeForm, SignOutElsewhereForm
from ..models.user import ROLE_LABELS
from ..services import auth as auth_service
from ..services.users import UserError, rename


@login_required
def account():
    user = current_user._get_current_object()
    return render_template(
        "auth/account.html",
        user=user,
        role_labels=ROLE_LABELS,
        sign_ins=auth_service.recent_sign_ins(user),
        sign_out_form=SignOutElsewhereForm(formdata=None),
    )


@login_required
def account_name():
    user = current_user._get_current_object()
    if request.method != "POST":
        return render_template("auth/account_name.html", form=NameChangeForm(data={"name": user.name}))
    form = NameChangeForm()
    if form.validate():
        try:
            changed = rename(user, form.name.data, actor=user)
        except UserError as error:
            db.session.rollback()
            form.name.errors.append(str(error))
        else:
            db.session.commit()
            flash("Your name has been changed." if changed else "Your name was already that: nothing was changed.")
            return redirect(url_for("auth.account"))
    return render_template("auth/account_name.html", form=form), 422


@login_required
def account_sign_out_elsewhere():
    """End every other session of this person (a copied cookie stops working) and keep this one."""
    user = current_user._get_current_object()
    if SignOutElsewhereForm().validate():
        auth_service.sign_out_elsewhere(user)
        db.session.commit()
        login_user(user)  # this session carries the new token
        flash("You have been signed out everywhere else.")
    return redirect(url_for("auth.account"))
