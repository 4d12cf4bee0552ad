"""A fresh proof of who you are before an administrator's change (ASVS 7.5.1): "Confirm it's you".

Every POST to the admin blueprint (roles and organisation of a person, deactivating and reactivating, resetting a
second factor, invitations and the mail that carries them, organisations) changes who can do what, so the guard
covers the whole blueprint rather than a list a new route could be left out of. Reading an admin page needs nothing
more than being signed in. When the person last proved who they are (signing in, or this page) more than
REAUTH_WINDOW_MINUTES ago, the POST is refused before the view runs, so nothing changes, and they are sent to
"Confirm it's you": their password, and the code from their authenticator app when they have one. The password is
counted and limited with the sign-in's own rows and limits (services/auth.py), wrong codes with the second
factor's (services/mfa.py).
"""

from __future__ import annotations

import time

from flask import Response, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from ..extensions import db
from ..forms.auth import IdentityConfirmForm
from ..models.vocabulary import REAUTH_REFUSED_MESSAGE
from ..security_log import security_event
from ..services import audit, mfa
from ..services import auth as auth_service
from .guards import refusal
from .loader import IDENTITY_CONFIRMED_AT, is_safe_next
from .mfa import check_second_factor

READS = frozenset({"GET", "HEAD", "OPTIONS"})


def identity_is_recent(now: float | None = None) -> bool:
    confirmed = session.get(IDENTITY_CONFIRMED_AT)
    if not isinstance(confirmed, int):
        return False
    now = time.time() if now is None else now
    return now - confirmed <= float(current_app.config["REAUTH_WINDOW_MINUTES"]) * 60


def require_recent_identity() -> BaseResponse | None:
    """A before_request hook, after the role guard: a change with a stale proof of identity goes to "Confirm it's
    you" and back, and does not happen."""
    if request.method in READS or identity_is_recent():
        return None
    security_event("reauth.required", endpoint=request.endpoint)
    confirm = url_for("auth.identity_confirm", next=_return_to())
    if request.headers.get("HX-Request"):
        return Response("Confirm it's you to continue", status=403, headers={"HX-Redirect": confirm})
    return redirect(confirm, 303)


def _return_to() -> str:
    """The page to come back to: this one when it can be shown, else the page the form was on."""
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()):
        return request.full_path.rstrip("?")
    referrer = request.referrer or ""
    root = request.host_url.rstrip("/")
    if referrer.startswith(root + "/") and is_safe_next(referrer[len(root) :]):
        return referrer[len(root) :]
    return ""


def _page(form: IdentityConfirmForm, *, status: int = 200):
    user = current_user._get_current_object()
    return render_template("auth/confirm_identity.html", form=form, has_code=mfa.is_enabled(user)), status


def _check(form: IdentityConfirmForm) -> int | None:
    """None when the password (and code) are right; else the status, with the error beside its field."""
    user = current_user._get_current_object()
    result = auth_service.confirm_identity(user, form.password.data, client=request.remote_addr or "")
    db.session.commit()
    if result.user is None:
        message, status = refusal(result)
        form.password.errors.append(message if result.busy or result.throttled else REAUTH_REFUSED_MESSAGE)
        return status
    if mfa.is_enabled(user):
        error, status = check_second_factor(user, form.code.data)
        if error:
            db.session.commit()  # the wrong code counts toward the throttle
            form.code.errors.append(error)
            return status
    return None  # the caller commits the accepted code with the confirmation


@login_required
def identity_confirm():
    """ "Confirm it's you": on success the time is kept in the session and they go back where they were."""
    form = IdentityConfirmForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return _page(form, status=422 if form.is_submitted() else 200)
    status = _check(form)
    if status is not None:
        return _page(form, status=status)
    user = current_user._get_current_object()
    session[IDENTITY_CONFIRMED_AT] = int(time.time())
    audit.record(
        "user.identity_confirmed",
        object_type="user",
        object_id=user.id,
        summary="Confirmed who they are before an administrator's change",
        actor=user,
    )
    security_event("reauth.confirmed", user_id=user.id)
    db.session.commit()
    target = form.next.data
    return redirect(target if is_safe_next(target) else url_for("main.index"))
