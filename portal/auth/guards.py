"""Role guards for blueprints: sign-in first, then the audience's role."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, g, request, session
from flask_login import current_user, login_user

from ..extensions import db, login_manager
from ..models import User
from ..models.user import ADMIN, CSU, FINANCE
from ..models.vocabulary import MFA_PENDING_EXPIRED
from ..security_log import security_event
from ..services import mfa
from ..services.auth import CLIENT, SignInResult, authenticate
from . import keep_text
from .mfa import check_second_factor, mark_pending, pending_user

THROTTLED = "There have been too many failed attempts to sign in to this account. Wait 5 minutes and try again."
CLIENT_THROTTLED = "Too many failed attempts to sign in have come from your network. Wait 5 minutes and try again."
BUSY = "The service is busy. Wait a moment and try again."
GENERIC_FAILURE = "Enter a correct email address and password"


def refusal(result: SignInResult) -> tuple[str, int]:
    """What a refused sign-in is told, and its status: a limit reached, the service busy, or a wrong password."""
    if result.busy:
        return BUSY, 503
    if result.throttled:
        return (CLIENT_THROTTLED if result.throttled == CLIENT else THROTTLED), 429
    return GENERIC_FAILURE, 422


def require_role(*roles: str) -> Callable[[], None]:
    """A before_request hook: signed-out -> sign in; lacking the role -> 403 for staff, 404 for partners."""

    def guard():
        if not current_user.is_authenticated:
            if keep_text.applies():
                return _sign_in_again()
            return login_manager.unauthorized()
        if not current_user.has_role(*roles):
            # A partner is not told that staff pages exist.
            status = 403 if current_user.has_role(CSU, FINANCE, ADMIN) else 404
            security_event("access.denied", reason="role", status=status, endpoint=request.endpoint)
            abort(status)
        return None

    return guard


def _sign_in_again():
    """Typed answers posted after the session ended: sign in on the same page, then the save goes ahead. Someone
    with an authenticator app is asked for its code (or a recovery code) on the same page after the password."""
    if not keep_text.same_origin():
        return keep_text.refuse()
    step = request.form.get("reauth")
    if step == keep_text.CODE_STEP:
        return _second_factor_again()
    if step != "1":
        return keep_text.render_again(signed_out=True, status=401)
    result = authenticate(
        request.form.get("email", ""), request.form.get("password", ""), client=request.remote_addr or ""
    )
    db.session.commit()
    if result.user is None:
        error, status = refusal(result)
        return keep_text.render_again(signed_out=True, status=status, error=error)
    _fresh_session()
    if mfa.is_enabled(result.user):
        mark_pending(result.user)  # not signed in yet: the code is asked for on the same page
        return keep_text.render_again(signed_out=True, status=401, step=keep_text.CODE_STEP)
    # Someone whose role needs an app they have not set up is refused by the loader (auth/loader.py).
    login_user(result.user)
    return None


def _second_factor_again():
    user = pending_user()
    if user is None:
        return keep_text.render_again(signed_out=True, status=401, error=MFA_PENDING_EXPIRED)
    error, status = check_second_factor(user, request.form.get("code"))
    db.session.commit()
    if error:
        return keep_text.render_again(signed_out=True, status=status, step=keep_text.CODE_STEP, error=error)
    _sign_in(user)
    return None


def _sign_in(user: User) -> None:
    _fresh_session()
    g.second_factor_passed = True  # read by loader._on_sign_in
    login_user(user)


def _fresh_session() -> None:
    """A fresh session on sign-in (no fixation), keeping the form token this page was posted with."""
    token = session.get("csrf_token")
    session.clear()
    if token:
        session["csrf_token"] = token
