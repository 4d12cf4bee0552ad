"""How Flask-Login finds the signed-in user, what a signed-out request gets, and when a session ends by itself.

A session ends SESSION_IDLE_MINUTES after its last request, and PERMANENT_SESSION_LIFETIME seconds after signing
in however active it is. Both times are kept in the (signed) session cookie, so checking them writes nothing to
the database. A session signed in with the password alone where a second factor is needed carries
MFA_PASSED = False and is not signed in at all.
"""

from __future__ import annotations

import time
from typing import NoReturn
from urllib.parse import urlsplit

from flask import Response, abort, current_app, flash, g, make_response, redirect, request, session, url_for
from flask_login import user_logged_in
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response as BaseResponse

from ..extensions import db
from ..models import User
from ..models.vocabulary import MFA_SIGN_IN_ELSEWHERE, SESSION_ABSOLUTE_SIGNED_OUT, SESSION_IDLE_SIGNED_OUT
from ..security_log import security_event
from ..services.mfa import needs_second_factor
from . import keep_text

SIGNED_IN_AT = "signed_in_at"  # seconds since the epoch, set at sign-in and never refreshed
LAST_SEEN = "last_seen"  # seconds since the epoch, refreshed by every request of the signed-in user
MFA_PASSED = "mfa_passed"
# seconds since the epoch: the last time this person proved who they are (signing in with every factor they need,
# or auth/reauth.py's "Confirm it's you"); an administrator's change needs it recent.
IDENTITY_CONFIRMED_AT = "identity_confirmed_at"
LOGIN_KEYS = ("_user_id", "_fresh", "_id", SIGNED_IN_AT, LAST_SEEN, MFA_PASSED, IDENTITY_CONFIRMED_AT)


def load_user(session_token: str) -> User | None:
    # The session holds the rotating token, not the id: rotating it signs the user out everywhere.
    # Their roles in the same query: every page asks them (the guard, the navigation), so never a second one.
    user = (
        db.session.scalars(
            select(User)
            .where(User.session_token == session_token, User.active.is_(True))
            .options(joinedload(User.role_rows))
        )
        .unique()
        .one_or_none()
    )
    if user is None or session.get(MFA_PASSED) is False:
        return None
    now = int(time.time())
    reason = expiry_reason(now)
    if reason is not None:
        end_session(user, reason)
        return None
    session[LAST_SEEN] = now
    session.setdefault(SIGNED_IN_AT, now)  # a session from before these limits: counted from now
    return user


def idle_seconds() -> float:
    return float(current_app.config["SESSION_IDLE_MINUTES"]) * 60


def expiry_reason(now: int) -> str | None:
    signed_in_at = session.get(SIGNED_IN_AT)
    if isinstance(signed_in_at, int) and now - signed_in_at > current_app.config["PERMANENT_SESSION_LIFETIME"]:
        return "absolute"
    last_seen = session.get(LAST_SEEN)
    if isinstance(last_seen, int) and now - last_seen > idle_seconds():
        return "idle"
    return None


def end_session(user: User, reason: str) -> None:
    """Signed out in this browser; the form token stays, so a form posted now keeps its text (auth/keep_text.py)."""
    for key in LOGIN_KEYS:
        session.pop(key, None)
    security_event("session.expired", user_id=user.id, reason=reason)
    if request.method == "GET" and not request.headers.get("HX-Request"):
        if reason == "idle":
            minutes = current_app.config["SESSION_IDLE_MINUTES"]
            flash(SESSION_IDLE_SIGNED_OUT.format(minutes=f"{minutes:g}"))
        else:
            hours = current_app.config["PERMANENT_SESSION_LIFETIME"] / 3600
            flash(SESSION_ABSOLUTE_SIGNED_OUT.format(hours=f"{hours:g}"))


@user_logged_in.connect
def _on_sign_in(sender, user: User, **extra) -> None:
    """Every sign-in, whichever page does it, starts the clocks and says whether the second factor was passed."""
    now = int(time.time())
    if not isinstance(session.get(SIGNED_IN_AT), int):
        session[SIGNED_IN_AT] = now
    session[LAST_SEEN] = now
    if session.get(MFA_PASSED) is not True:
        passed = bool(g.pop("second_factor_passed", False)) or not needs_second_factor(user)
        session[MFA_PASSED] = passed
        if passed:
            session[IDENTITY_CONFIRMED_AT] = now
        if not passed and keep_text.applies():
            _refuse_password_only(user)


def _refuse_password_only(user: User) -> NoReturn:
    """The sign-in-again form on a page of typed answers (auth/guards.py) asks for the code of an authenticator app
    that is set up, but cannot set one up: for someone whose role needs one they have not, a password alone is not
    a sign-in. Their answers are shown again: they sign in and set it up in another tab, and press the button again."""
    for key in LOGIN_KEYS:
        session.pop(key, None)
    current_app.login_manager._update_request_context_with_user()  # type: ignore[attr-defined]
    security_event("mfa.required", user_id=user.id, reason="password_only")
    abort(make_response(keep_text.render_again(signed_out=True, status=401, error=MFA_SIGN_IN_ELSEWHERE)))


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(char) < 32 for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def unauthorized() -> BaseResponse:
    sign_in = url_for("auth.sign_in", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        return Response("Sign in to continue", status=401, headers={"HX-Redirect": sign_in})
    return redirect(sign_in)
