"""The due and overdue list, and chasing overdue returns from it: select, preview the mail, send."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..forms.chase import ChaseForm
from ..htmx import page_or_fragment
from ..models import ReminderSent
from ..models.vocabulary import DUE_STATES
from ..pagination import govuk_pagination
from ..services import due, reminders


def _chase_form(items: list[due.DueItem], formdata=None) -> ChaseForm:
    form = ChaseForm(formdata=formdata)
    form.returns.choices = [(item.key, item.key) for item in items if item.overdue and item.reachable]
    return form


def _list_page(form: ChaseForm | None = None, status: int = 200):
    found = due.due_page(due.DueQuery.from_args(request.args))
    if found.refreshed:
        db.session.commit()
    query = found.query
    pagination = govuk_pagination(
        found.page.pages,
        found.page.number,
        lambda number: url_for("csu.due_list", **query.args(page=number)),
        "Pages of returns due and overdue",
        htmx_target="#due-list",
    )
    context: dict[str, Any] = {
        "found": found,
        "items": found.items,
        "query": query,
        "states": DUE_STATES,
        "can_chase": ReminderSent.can_chase(current_user),
        "form": form or _chase_form(found.items),
        "chosen": set(form.returns.data or []) if form else set(),
        "pagination": pagination,
    }
    if status != 200:  # a refused chase: the whole page with its error summary
        return render_template("csu/due.html", **context), status
    return page_or_fragment("csu/due.html", "csu/_due_list.html", **context)


def due_list():
    return _list_page()


def _checked_form():
    """The posted selection, checked against what can be chased now (the selected returns only); (form, items)
    or a 403."""
    if not ReminderSent.can_chase(current_user):
        abort(403)
    chaseable = due.chaseable_items(request.form.getlist("returns"))
    form = _chase_form(chaseable, request.form)
    return form, chaseable


def chase_preview():
    """The mail each selected return's people would get, and the button that sends it (nothing saved yet)."""
    form, chaseable = _checked_form()
    if not form.validate():
        return _list_page(form, 422)
    previews = reminders.chase_previews(reminders.selected(chaseable, form.returns.data or []))
    return render_template("csu/chase_preview.html", previews=previews, form=form, filters=request.args)


def chase_send():
    form, chaseable = _checked_form()
    if not form.validate():
        return _list_page(form, 422)
    result = reminders.chase(reminders.selected(chaseable, form.returns.data or []), by=current_user)
    db.session.commit()
    flash(result.summary)
    filters: dict[str, Any] = request.args.to_dict()
    return redirect(url_for("csu.due_list", **filters))
