"""Forgotten password: ask for a link (the same answer for every address), then choose a new password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import login_user

from ..extensions import db
from ..forms.password_reset import PasswordResetForm, PasswordResetRequestForm
from ..services import password_reset as service
from ..services.passwords import PasswordPolicyError
from .loaders import load_reset_link
from .views import home_url

TYPED_ADDRESS = "reset_address"  # what was typed, to repeat it on the next page (never looked up there)


def password_reset_request():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        service.request_reset(form.email.data, client=request.remote_addr or "")
        db.session.commit()
        session[TYPED_ADDRESS] = form.email.data
        return redirect(url_for("auth.password_reset_sent"), 303)
    return render_template("auth/password_reset_request.html", form=form), 422 if form.is_submitted() else 200


def password_reset_sent():
    return render_template("auth/password_reset_sent.html", email=session.get(TYPED_ADDRESS))


def password_reset(token: str):
    reset = load_reset_link(token)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            user = service.reset_password(reset, form.new_password.data)
        except PasswordPolicyError as error:
            db.session.rollback()
            form.new_password.errors.append(str(error))
        except service.ResetError:
            db.session.rollback()
            return redirect(url_for("auth.password_reset", token=token))  # now shows why the link is dead
        else:
            db.session.commit()
            session.clear()  # a fresh session: the only one this user now has
            login_user(user)
            flash("Your password has been changed. You have been signed out everywhere else.")
            return redirect(home_url(user))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/password_reset.html", form=form, reset=reset), status
