"""Your account, for everyone signed in: your name, your password (its own page), your sessions and your mail."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from ..extensions import db
from ..forms.account import NameChangeForm, SignOutElsewhereForm, mail_preferences_form
from ..models.mail_preference import mandatory_kinds_for
from ..models.user import ROLE_LABELS
from ..services import auth as auth_service
from ..services import mfa, preferences
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
        mfa_enabled=mfa.is_enabled(user),
        mfa_required=mfa.required_for(user),
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


@login_required
def account_mail():
    """Which mail you get: a choice per optional kind; mandatory kinds are listed as always sent."""
    user = current_user._get_current_object()
    current = preferences.preferences_of(user)
    if request.method != "POST":
        return _mail_page(user, mail_preferences_form(list(current), current))
    form = mail_preferences_form(list(current), current, formdata=request.form)
    if form.validate():
        try:
            changes = preferences.set_preferences(user, form.requested(), by=user)
        except preferences.PreferenceError as error:
            db.session.rollback()  # a tampered form: nothing of it is saved
            field = form._fields.get(error.kind)
            (field.errors if field is not None else form.form_errors).append(str(error))
        else:
            db.session.commit()
            flash("Your email choices have been saved." if changes else "Nothing was changed.")
            return redirect(url_for("auth.account"))
    return _mail_page(user, form), 422


def _mail_page(user, form):
    return render_template("auth/account_mail.html", form=form, mandatory=mandatory_kinds_for(user))
