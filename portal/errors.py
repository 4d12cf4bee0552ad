"""Error pages: one template for every HTTP error, never a traceback."""

import logging

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, SecurityError

from .auth import keep_text
from .extensions import db
from .security_log import security_event

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Sorry, there is a problem with that request", "Go back, refresh the page and try again."),
    401: ("You need to sign in", "Sign in to continue."),
    403: ("You do not have permission to see this page", "If you think you should, contact the Community Safety Unit."),
    404: (
        "Page not found",
        "If you typed the web address, check it is correct. If you pasted it, check you copied the whole address.",
    ),
    405: ("Sorry, you cannot do that here", "Go back and use the links and buttons on the page."),
    413: ("What you sent is too large", "Shorten it and try again."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
    500: ("Sorry, there is a problem with the service", "Try again later. Nothing you had saved has been lost."),
    503: ("Sorry, the service is busy", "Try again in a minute. Anything you had saved is safe."),
}


def render_error(code: int, *, title: str | None = None, message: str | None = None):
    default_title, default_message = MESSAGES.get(code, ("Sorry, something went wrong", "Go back and try again."))
    return (
        render_template(
            "errors/error.html", code=code, title=title or default_title, message=message or default_message
        ),
        code,
    )


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error):
        # Flask-WTF's own fixed wording ("The CSRF token is missing."), never anything the request carried.
        security_event("csrf.failed", reason=error.description, endpoint=request.endpoint)
        if keep_text.applies():
            # Typed answers survive an expired session or token: shown again with a fresh token, but only to a
            # request from the portal's own pages; the rest are refused before the session is even read.
            if not keep_text.same_origin():
                return keep_text.refuse()
            return keep_text.render_again(signed_out=not current_user.is_authenticated, status=400)
        return render_error(
            400,
            title="Your form has expired",
            message="For your security the form could not be sent. Go back, refresh the page and send it again.",
        )

    @app.errorhandler(SecurityError)
    def _untrusted_host(error):
        # No page can be built for a host this deployment does not serve (links need the host).
        return "Bad request: this host is not served here.", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        code = error.code or 500
        response = render_error(code)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            return response[0], code, {"Allow": ", ".join(error.valid_methods)}
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(error):
        db.session.rollback()
        log.error("database unavailable on %s %s: %s", request.method, request.path, error.orig.__class__.__name__)
        return render_error(503)

    @app.errorhandler(Exception)
    def _unexpected(error):
        if isinstance(error, HTTPException):
            return _http(error)
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)

    @app.errorhandler(InternalServerError)
    def _internal(error):
        return render_error(500)
