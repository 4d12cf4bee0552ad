"""One place decides whether a request gets the whole page or just the fragment htmx swaps in."""

from flask import render_template, request


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


def page_or_fragment(page: str, fragment: str, **context):
    return render_template(fragment if wants_fragment() else page, **context)
