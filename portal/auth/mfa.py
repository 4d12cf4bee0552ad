"""The second factor's pages: the code after the password, a recovery code instead, setting it up (at sign-in
for the roles that need it, or from "Your account"), turning it off, and keeping a session alive.

After a correct password a person who needs a second factor is not signed in: the session holds only a pending
marker (their session token, the page they asked for, and a deadline), which these pages turn into a sign-in.
"""

from __future__ import annotations

import time

from flask import current_app, flash, g, redirect, render_template, session, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy import select

from ..extensions import db
from ..forms.auth import CodeForm, RecoveryCodeForm, TurnOffSecondFactorForm
from ..models import User
from ..models.vocabulary import (
    MFA_CODE_MISSING,
    MFA_CODE_WRONG,
    MFA_PENDING_EXPIRED,
    MFA_RECOVERY_WRONG,
    MFA_THROTTLED,
)
from ..services import mfa
from ..services.passwords import verify_password
from .loader import MFA_PASSED, is_safe_next

PENDING = "mfa_pending"


def start_second_factor(user: User, next_page: str | None):
    """Called by the sign-in page after a correct password: ask for the code, or for setting it up first."""
    session.clear()  # a fresh session: no fixation
    mark_pending(user, next_page or "")
    return redirect(url_for("auth.mfa_code" if mfa.is_enabled(user) else "auth.mfa_setup"))


def pending_user() -> User | None:
    """The person whose password was right and whose code is awaited, while the marker lasts."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("until"), int) or pending["until"] < time.time():
        return None
    token = str(pending.get("token") or "")
    return db.session.scalar(select(User).where(User.session_token == token, User.active.is_(True)))


def mark_pending(user: User, next_page: str = "") -> None:
    """After a correct password, for someone with a second factor: the session waits for the code."""
    session[PENDING] = {
        "token": user.session_token,
        "until": int(time.time()) + current_app.config["MFA_PENDING_SECONDS"],
        "next": next_page if is_safe_next(next_page) else "",
    }


def check_second_factor(user: User, code: str | None) -> tuple[str | None, int]:
    """One field for either kind of code, on pages that ask for it beside other answers ("Confirm it's you", the
    sign-in-again page): None when it is right, else the message for beside the field and the status. Wrong codes
    count toward the throttle (services/mfa.py); the caller commits."""
    if mfa.throttled(user):
        return MFA_THROTTLED, 429
    typed = mfa.normalise_code(code)
    if not typed:
        return MFA_CODE_MISSING, 422
    if len(typed) == 6 and typed.isdigit():
        return (None, 200) if mfa.verify_code(user, typed) == mfa.ACCEPTED else (MFA_CODE_WRONG, 422)
    return (None, 200) if mfa.use_recovery_code(user, typed) else (MFA_RECOVERY_WRONG, 422)


def _start_again():
    session.pop(PENDING, None)
    flash(MFA_PENDING_EXPIRED)
    return redirect(url_for("auth.sign_in"))


def _sign_in(user: User):
    target = session.get(PENDING, {}).get("next") or url_for("main.index")
    session.clear()
    g.second_factor_passed = True  # read by loader._on_sign_in
    login_user(user)
    return target


def _check_page(template: str, form, *, status: int = 200, **context):
    return render_template(template, form=form, **context), status


def mfa_code():
    """ "Enter the code from your authenticator app"; wrong codes count toward the account's throttle."""
    user = pending_user()
    if user is None:
        return _start_again()
    if not mfa.is_enabled(user):
        return redirect(url_for("auth.mfa_setup"))
    form = CodeForm()
    if not form.validate_on_submit():
        return _check_page("auth/mfa_code.html", form, status=422 if form.is_submitted() else 200)
    if mfa.throttled(user):
        form.code.errors.append(MFA_THROTTLED)
        return _check_page("auth/mfa_code.html", form, status=429)
    outcome = mfa.verify_code(user, form.code.data)
    db.session.commit()
    if outcome != mfa.ACCEPTED:
        form.code.errors.append(MFA_CODE_WRONG)
        return _check_page("auth/mfa_code.html", form, status=422)
    return redirect(_sign_in(user))


def mfa_recovery():
    user = pending_user()
    if user is None:
        return _start_again()
    form = RecoveryCodeForm()
    if not form.validate_on_submit():
        return _check_page("auth/mfa_recovery.html", form, status=422 if form.is_submitted() else 200)
    if mfa.throttled(user):
        form.code.errors.append(MFA_THROTTLED)
        return _check_page("auth/mfa_recovery.html", form, status=429)
    used = mfa.use_recovery_code(user, form.code.data)
    db.session.commit()
    if not used:
        form.code.errors.append(MFA_RECOVERY_WRONG)
        return _check_page("auth/mfa_recovery.html", form, status=422)
    target = _sign_in(user)  # a fresh session: the message goes after it
    flash(f"You signed in with a recovery code. You have {mfa.recovery_codes_left(user)} left.")
    return redirect(target)


def _setup_page(user: User, form: CodeForm, *, action: str, status: int = 200):
    factor = mfa.begin_enrolment(user)
    db.session.commit()
    return _check_page(
        "auth/mfa_setup.html",
        form,
        status=status,
        qr_code=mfa.qr_code_data_uri(mfa.provisioning_uri(user, factor)),
        secret=mfa.grouped(factor.secret),
        action=action,
        required=mfa.required_for(user),
    )


def _confirm(user: User, form: CodeForm, action: str):
    """The setup page's POST: None when MFA is now on (the caller shows the codes), else the page again."""
    if not form.validate_on_submit():
        return None, _setup_page(user, form, action=action, status=422 if form.is_submitted() else 200)
    if mfa.throttled(user):
        form.code.errors.append(MFA_THROTTLED)
        return None, _setup_page(user, form, action=action, status=429)
    codes = mfa.confirm_enrolment(user, form.code.data)
    db.session.commit()
    if codes is None:
        form.code.errors.append(MFA_CODE_WRONG)
        return None, _setup_page(user, form, action=action, status=422)
    return codes, None


def mfa_setup():
    """Setting up an authenticator app after the password, for a role that needs one: then the recovery codes."""
    user = pending_user()
    if user is None:
        return _start_again()
    if mfa.is_enabled(user):
        return redirect(url_for("auth.mfa_code"))
    codes, page = _confirm(user, CodeForm(), url_for("auth.mfa_setup"))
    if codes is None:
        return page
    return _codes_page(codes, _sign_in(user))


def _codes_page(codes: list[str], continue_to: str):
    g.no_store = True
    return render_template("auth/mfa_recovery_codes.html", codes=codes, continue_to=continue_to)


@login_required
def account_mfa_setup():
    """Setting it up from "Your account" (a partner's choice)."""
    user = current_user._get_current_object()
    if mfa.is_enabled(user):
        return redirect(url_for("auth.account"))
    codes, page = _confirm(user, CodeForm(), url_for("auth.account_mfa_setup"))
    if codes is None:
        return page
    session[MFA_PASSED] = True
    return _codes_page(codes, url_for("auth.account"))


@login_required
def account_mfa_turn_off():
    """Turn it off with the password, when the role does not require it; every other session ends."""
    user = current_user._get_current_object()
    if not mfa.is_enabled(user) or mfa.required_for(user):
        return redirect(url_for("auth.account"))
    form = TurnOffSecondFactorForm()
    if not form.validate_on_submit():
        return _check_page("auth/mfa_turn_off.html", form, status=422 if form.is_submitted() else 200)
    if not verify_password(user.password_hash, form.password.data):
        form.password.errors.append("Your password is not correct")
        return _check_page("auth/mfa_turn_off.html", form, status=422)
    mfa.turn_off(user)
    db.session.commit()
    login_user(user)  # this session carries the new token
    flash("Signing in with an authenticator app is now off. You have been signed out everywhere else.")
    return redirect(url_for("auth.account"))


@login_required
def keep_alive():
    """ "Stay signed in": loading the user has already counted this request as activity."""
    return "", 204
