"""Never throw typed text away: a form posted after the session or its token expired is shown again.

The page repeats every posted answer (visible, so it can be copied, and hidden, so it is sent again)
and asks the person to sign in, or just to press the button again, on the same page.
"""

from __future__ import annotations

from flask import render_template, request

from ..htmx import is_autosave
from ..models.vocabulary import ANSWER_LABELS, PERSONAL_DATA_REASON_LABEL

# Endpoints whose forms carry long typed answers.
KEEP_TEXT_ENDPOINTS: set[str] = set()
LABELS = {
    **ANSWER_LABELS,
    "comment": "What needs to change",
    "reason": "Reason",
    "personal_data_reason": PERSONAL_DATA_REASON_LABEL,
}
NOT_REPEATED = {"csrf_token", "email", "password", "reauth", "autosave", "save_continue", "save_later"}


def keeps_text(view):
    """Mark a view: an expired session or token must not lose what was posted to it."""
    KEEP_TEXT_ENDPOINTS.add(f"{view.__module__.split('.')[-2]}.{view.__name__}")
    return view


def applies() -> bool:
    return request.method == "POST" and request.endpoint in KEEP_TEXT_ENDPOINTS


def posted_answers() -> list[tuple[str, str]]:
    return [(key, value) for key, value in request.form.items(multi=True) if key not in NOT_REPEATED]


def render_again(*, signed_out: bool, status: int, error: str | None = None, throttled: bool = False):
    if is_autosave():
        message = (
            "You have been signed out, so the latest changes are not saved. Press “Save and come back later” "
            "to sign in again without losing them."
            if signed_out
            else "The latest changes are not saved yet. Press “Save and come back later” to save them."
        )
        return render_template("partner/_autosave_status.html", message=message, failed=True), status
    return (
        render_template(
            "auth/resubmit.html",
            answers=posted_answers(),
            texts=[
                (LABELS.get(key, "Output figure" if key[:1] == "m" and key[1:].isdigit() else key), value)
                for key, value in posted_answers()
                if value and key not in {"version", "editor", "submission_key"}
            ],
            signed_out=signed_out,
            error=error,
            throttled=throttled,
            action=request.path,
            email=request.form.get("email", ""),
        ),
        status,
    )
