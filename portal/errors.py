"""Error pages: one template for every HTTP error, never a traceback, and never a second database error.

A page about a failure must not fail the same way: the 500 and 503 pages (and any page whose rendering meets a
database error) are drawn without the database, with no signed-in navigation, and if even that fails, from a
static string with the right status. A refused htmx autosave gets one short line for its status region.
"""

import logging
from html import escape

from flask import Flask, g, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, SecurityError

from .auth import keep_text
from .database import NulCharacterError, database_cannot_write_now
from .extensions import db, login_manager
from .htmx import looks_like_autosave
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
# The one line a refused autosave puts in the status region (never a page inside the form).
AUTOSAVE_REFUSED = {
    409: "Draft not saved: someone else saved this return. Press “Save and come back later” to see what changed.",
    413: "Draft not saved: the answers are too long. Shorten them, then save.",
    503: "Draft not saved: the service is busy. Your answers are still here; press “Save and come back later” to "
    "try again.",
}
AUTOSAVE_REFUSED_DEFAULT = (
    "Draft not saved. Your answers are still here; press “Save and come back later” to save them."
)
BUSY_KEEPING_TEXT = (
    "The service was too busy to save your answers. They are kept on this page: press the button to save them."
)
NUL_REFUSED = (
    "What you sent contains a null character, which the service cannot store. Go back, remove it and try again."
)
# Served when even the database-free page cannot be drawn: plain, self-contained, the right status.
STATIC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1><p>{message}</p><p><a href="/">Go to the start page</a></p>
<p>Error code {code}</p></main></body></html>
"""


def _texts(code: int, title: str | None, message: str | None) -> tuple[str, str]:
    default_title, default_message = MESSAGES.get(code, ("Sorry, something went wrong", "Go back and try again."))
    return title or default_title, message or default_message


def without_database() -> None:
    """From here on this request's templates show no signed-in navigation and ask the database nothing.

    Flask-Login's context processor and the navigation read current_user; a user not yet loaded would be loaded
    (a query), and one loaded before a rollback would be refreshed (a query). So the user is taken as anonymous.
    """
    g._login_user = login_manager.anonymous_user()
    g.demo_data_present = False


def static_error(code: int, *, title: str | None = None, message: str | None = None):
    title, message = _texts(code, title, message)
    page = STATIC_PAGE.format(title=escape(title), message=escape(message), code=code)
    return page, code, {"Content-Type": "text/html; charset=utf-8"}


def _draw(code: int, title: str, message: str):
    if looks_like_autosave():
        text = AUTOSAVE_REFUSED.get(code, AUTOSAVE_REFUSED_DEFAULT)
        return render_template("partner/_autosave_status.html", message=text, failed=True), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def render_error(code: int, *, title: str | None = None, message: str | None = None, database: bool = True):
    """The error page; database=False (500, 503) draws it without asking the database anything."""
    title, message = _texts(code, title, message)
    if not database:
        without_database()
    try:
        return _draw(code, title, message)
    except SQLAlchemyError as error:
        # The database failed while the page was drawn: draw it again without it.
        log.error("error page %s drawn without the database: %s", code, error.__class__.__name__)
        _rollback()
    except Exception:
        log.exception("error page %s could not be drawn", code)
        return static_error(code, title=title, message=message)
    try:
        without_database()
        return _draw(code, title, message)
    except Exception:
        log.exception("error page %s could not be drawn without the database", code)
        return static_error(code, title=title, message=message)


def _rollback() -> None:
    """Roll back what the failed request began; a database that cannot even do that is already broken."""
    try:
        db.session.rollback()
    except Exception as error:  # the connection may be gone; the page must still be sent
        log.error("rollback failed: %s", error.__class__.__name__)


def _busy(error: DBAPIError):
    """A 503: the database refused, is locked or is unreachable. Typed answers posted to a keeps-text form are
    shown again to be sent once more; everything else gets the busy page. Neither asks the database anything."""
    _rollback()
    log.error(
        "database unavailable on %s %s: %s",
        request.method,
        request.path,
        (error.orig.__class__ if error.orig is not None else error.__class__).__name__,
    )
    if keep_text.applies():
        try:
            without_database()
            return keep_text.render_again(signed_out=False, status=503, error=BUSY_KEEPING_TEXT)
        except Exception:
            log.exception("the busy page could not repeat the answers")
    return render_error(503, database=False)


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
        response = render_error(code, database=code != 500)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            return response[0], code, {"Allow": ", ".join(error.valid_methods)}
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(error):
        return _busy(error)

    @app.errorhandler(Exception)
    def _unexpected(error):
        if isinstance(error, HTTPException):
            return _http(error)
        if isinstance(error, DBAPIError) and (error.connection_invalidated or database_cannot_write_now(error)):
            return _busy(error)  # the connection was lost, or the database is read-only or full: not the code
        _rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500, database=False)

    @app.errorhandler(InternalServerError)
    def _internal(error):
        return render_error(500, database=False)

    @app.errorhandler(NulCharacterError)
    def _nul_character(error):
        # Sent by a client, never typed by a person: a form that checks its fields has already said where it is.
        _rollback()
        return render_error(400, message=NUL_REFUSED)
