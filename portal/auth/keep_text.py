"""Never throw typed text away: a form posted after the session or its token expired is shown again.

The page repeats every posted answer in a field the person can read and change, and asks them to sign
in, or just to press the button again, on the same page. It is offered only to a request that shows it
came from one of the portal's own pages: otherwise another site could post its own answers through it
(the page mints a valid token). Anything else gets a plain refusal: no form, no token, no cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, render_template, request

from ..htmx import is_autosave
from ..models.vocabulary import ANSWER_LABELS, PERSONAL_DATA_REASON_LABEL
from ..security_log import security_event

# Endpoints whose forms carry long typed answers.
KEEP_TEXT_ENDPOINTS: set[str] = set()
LABELS = {
    **ANSWER_LABELS,
    "comment": "What needs to change",
    "reason": "Reason",
    "personal_data_reason": PERSONAL_DATA_REASON_LABEL,
}
# Sign-in fields and buttons: never repeated.
NOT_REPEATED = {
    "csrf_token",
    "email",
    "password",
    "code",
    "reauth",
    "autosave",
    "save_continue",
    "save_later",
    "submit",
    "request_changes",
    "reopen",
}
# The form's own state, never typed or shown: the version it was opened at and the keys that make a save or
# submit happen once. Sent on as they came (a stale version is refused by the save itself).
FORM_STATE = {"version", "editor", "submission_key"}
CODE_STEP = "code"  # the sign-in-again page's second step, for someone with an authenticator app
SHORT_ANSWER = 60  # characters: a longer answer, or one over several lines, gets a text area


def keeps_text(view):
    """Mark a view: an expired session or token must not lose what was posted to it."""
    KEEP_TEXT_ENDPOINTS.add(f"{view.__module__.split('.')[-2]}.{view.__name__}")
    return view


def applies() -> bool:
    return request.method == "POST" and request.endpoint in KEEP_TEXT_ENDPOINTS


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin() -> bool:
    """Whether the browser says this request came from a page of this site: Sec-Fetch-Site when it sends it,
    else Origin, else Referer. None of them: not shown, so not assumed."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    own = {_origin(request.host_url), _origin(current_app.config["PUBLIC_URL"])}
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() in own
    referer = request.headers.get("Referer")
    return referer is not None and _origin(referer) in own


def refuse():
    """A plain 403 for a re-post that did not come from this site: nothing to fill in, no token, no cookie."""
    origin = request.headers.get("Origin") or request.headers.get("Sec-Fetch-Site") or ""
    security_event("resubmit.refused", reason="not_same_origin", origin=origin[:100], endpoint=request.endpoint)
    # Straight from the template, without the context processors: they load the signed-in user, which can
    # touch the session (and so send a cookie).
    return current_app.jinja_env.get_template("auth/refused.html").render(), 403


def posted_answers() -> list[tuple[str, str]]:
    return [(key, value) for key, value in request.form.items(multi=True) if key not in NOT_REPEATED]


def _label(key: str) -> str:
    return LABELS.get(key, "Output figure" if key[:1] == "m" and key[1:].isdigit() else key)


def _fields() -> tuple[list[tuple[str, str]], list[dict]]:
    """The form's state (sent on unchanged) and the answers, each a field to review and change."""
    answers = posted_answers()
    state = [(key, value) for key, value in answers if key in FORM_STATE]
    fields = [
        {
            "id": f"answer-{number}",
            "name": key,
            "label": _label(key),
            "value": value,
            "long": len(value) > SHORT_ANSWER or "\n" in value,
        }
        for number, (key, value) in enumerate(answers, start=1)
        if key not in FORM_STATE
    ]
    return state, fields


def render_again(*, signed_out: bool, status: int, error: str | None = None, step: str = "password"):
    # A request whose CSRF token was valid (the database then failed it) came from the portal's own page; any
    # other must show it did, or it could be a cross-site post dressed up as one.
    if not (g.get("csrf_valid") or same_origin()):
        return refuse()
    if is_autosave():
        message = (
            "You have been signed out, so the latest changes are not saved. Press “Save and come back later” "
            "to sign in again without losing them."
            if signed_out
            else "The latest changes are not saved yet. Press “Save and come back later” to save them."
        )
        return render_template("partner/_autosave_status.html", message=message, failed=True), status
    state, fields = _fields()
    return (
        render_template(
            "auth/resubmit.html",
            state=state,
            fields=fields,
            signed_out=signed_out,
            error=error,
            code_step=step == CODE_STEP,
            action=request.path,
            email=request.form.get("email", ""),
        ),
        status,
    )
