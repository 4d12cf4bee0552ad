"""Sign in, sign out and change password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db
from ..forms.auth import PasswordChangeForm, SignInForm
from ..models.user import ADMIN, CSU, FINANCE, PARTNER
from ..services import auth as auth_service
from ..services.mfa import needs_second_factor
from ..services.passwords import PasswordPolicyError, verify_password
from ..services.users import set_password
from .guards import refusal
from .loader import is_safe_next
from .mfa import start_second_factor

HOME_BY_ROLE = ((CSU, "csu.home"), (FINANCE, "finance.home"), (ADMIN, "admin.home"), (PARTNER, "partner.home"))


def home_url(user) -> str:
    for role, endpoint in HOME_BY_ROLE:
        if user.has_role(role):
            return url_for(endpoint)
    return url_for("main.no_role")


def sign_in():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = SignInForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        result = auth_service.authenticate(form.email.data, form.password.data, client=request.remote_addr or "")
        db.session.commit()
        if result.user is not None:
            if needs_second_factor(result.user):
                return start_second_factor(result.user, form.next.data)
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(result.user)
            target = form.next.data if is_safe_next(form.next.data) else home_url(result.user)
            return redirect(target)
        message, status = refusal(result)
        form.email.errors.append(message)
    elif form.is_submitted():
        status = 422
    return render_template("auth/sign_in.html", form=form), status


@login_required
def sign_out():
    auth_service.sign_out(current_user)
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("auth.sign_in"))


@login_required
def password_change():
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors.append("Your current password is not correct")
        else:
            try:
                set_password(current_user, form.new_password.data, actor=current_user)
            except PasswordPolicyError as error:
                form.new_password.errors.append(str(error))
            else:
                db.session.commit()
                # The password change signed every session out; keep this one signed in.
                login_user(current_user._get_current_object())
                flash("Your password has been changed. You have been signed out everywhere else.")
                return redirect(home_url(current_user))
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template("auth/password_change.html", form=form), status
