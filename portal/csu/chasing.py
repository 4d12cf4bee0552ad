"""The due and overdue list, and chasing overdue returns from it: select, preview the mail, send."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..forms.chase import ChaseForm
from ..models import ReminderSent
from ..models.vocabulary import DUE_STATES
from ..services import due, reminders


def _chase_form(items: list[due.DueItem], formdata=None) -> ChaseForm:
    form = ChaseForm(formdata=formdata)
    form.returns.choices = [(item.key, item.key) for item in items if item.overdue and item.reachable]
    return form


def _list_page(form: ChaseForm | None = None, status: int = 200):
    query = due.DueQuery.from_args(request.args)
    everything = due.due_and_overdue()
    due.last_reminded(everything)
    items = query.apply(everything)
    years, organisations = due.filter_choices(everything)
    can_chase = ReminderSent.can_chase(current_user)
    return render_template(
        "csu/due.html",
        items=items,
        total_count=len(everything),
        query=query,
        years=years,
        organisations=organisations,
        states=DUE_STATES,
        can_chase=can_chase,
        form=form or _chase_form(items),
        chosen=set(form.returns.data or []) if form else set(),
    ), status


def due_list():
    return _list_page()


def _checked_form():
    """The posted selection, checked against what can be chased now; (form, items) or a 403."""
    if not ReminderSent.can_chase(current_user):
        abort(403)
    chaseable = reminders.chaseable()
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
