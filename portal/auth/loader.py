"""How Flask-Login finds the signed-in user, and what a signed-out request gets."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, redirect, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from ..extensions import db
from ..models import User


def load_user(session_token: str) -> User | None:
    # The session holds the rotating token, not the id: rotating it signs the user out everywhere.
    return db.session.scalar(select(User).where(User.session_token == session_token, User.active.is_(True)))


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
