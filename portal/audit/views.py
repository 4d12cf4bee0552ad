"""The audit trail page and its CSV: the same filters, from the URL."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for

from ..forms.audit import SYSTEM, AuditTrailFilterForm
from ..pagination import govuk_pagination
from ..services import audit_trail as service
from ..services.exports import csv_response


def _form() -> tuple[AuditTrailFilterForm, service.TrailFilter | None]:
    """The filter form read from the URL, and the filter it asks for (None when the form has errors)."""
    form = AuditTrailFilterForm(formdata=request.args)
    form.offer_actors([(str(actor.id), service.actor_label(actor)) for actor in service.actors()])
    if not form.validate():
        return form, None
    return form, service.TrailFilter(
        actor_id=form.actor_id,
        system_only=form.actor.data == SYSTEM,
        object_type=form.object_type.data or None,
        object_id=int(form.object_id.data) if form.object_id.data else None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def _filter_args() -> dict[str, Any]:
    """The URL's filters (not its page), for the page links and the download."""
    return {key: values for key, values in request.args.lists() if key != "page"}


def _pagination(page: service.TrailPage) -> dict[str, Any] | None:
    args = _filter_args()
    return govuk_pagination(
        page.pages, page.page, lambda number: url_for("audit.trail", **args, page=number), "Pages of the audit trail"
    )


def trail():
    form, filters = _form()
    if filters is None:
        return render_template("audit/trail.html", form=form, page=None), 422
    page = service.trail_page(filters, request.args.get("page", 1, type=int) or 1)
    if page is None:
        abort(404)
    return render_template(
        "audit/trail.html",
        form=form,
        page=page,
        pagination=_pagination(page),
        changes_of=service.changes_of,
        object_label=service.object_label,
        actor_label=service.actor_label,
        csv_url=url_for("audit.trail_csv", **_filter_args()),
    )


def trail_csv():
    form, filters = _form()
    if filters is None:
        return render_template("audit/trail.html", form=form, page=None), 422
    return csv_response("audit-trail.csv", service.CSV_COLUMNS, service.csv_rows(filters))
