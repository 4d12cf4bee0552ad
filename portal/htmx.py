"""One place decides whether a request gets the whole page or just the fragment htmx swaps in."""

from flask import render_template, request

# The id of the status region an autosave's answer is swapped into (macros/forms.html).
AUTOSAVE_TARGET = "autosave-status"


def wants_fragment() -> bool:
    """A plain htmx request: not boosted, not a history restore (those need the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def is_autosave() -> bool:
    """An htmx autosave of a form: answered with the small status fragment, never with a page."""
    return bool(request.headers.get("HX-Request")) and request.form.get("autosave") == "1"


def looks_like_autosave() -> bool:
    """is_autosave() for an error handler: true also when the body cannot be read (too large, cut short), from
    the status region htmx names as its target."""
    if not request.headers.get("HX-Request"):
        return False
    if request.headers.get("HX-Target", "").endswith("#" + AUTOSAVE_TARGET):
        return True
    try:
        return request.form.get("autosave") == "1"
    except Exception:  # the body itself was the problem
        return False


def page_or_fragment(page: str, fragment: str, **context):
    return render_template(fragment if wants_fragment() else page, **context)
