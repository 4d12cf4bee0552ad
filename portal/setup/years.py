"""The set-up of a year: the year itself, its funding streams and priorities, and rolling it over."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth.loaders import load_priority, load_stream, load_year
from ..extensions import db
from ..forms.returns import plain_pounds
from ..forms.setup import ConfirmForm, PriorityForm, StreamForm, YearForm
from ..models import FinancialYear, FundingStream, Priority
from ..services import setup as service
from ..services.years import all_years
from .pages import ensure_editable, refuse, viewer


def home():
    user = viewer()
    return render_template("setup/home.html", years=all_years(), can_create=FinancialYear.can_create(user))


def year_view(year_label: str):
    year = load_year(year_label)
    return render_template(
        "setup/year.html",
        year=year,
        allocations=service.stream_allocations(year),
        priorities=year.priorities,
        projects=service.year_projects(year),
        editable=year.setup_is_editable_by(viewer()),
        can_set_up=year.can_set_up(viewer()),
    )


def _year_page(form: YearForm, status: int = 200, year: FinancialYear | None = None):
    return render_template("setup/year_form.html", form=form, year=year), status


def year_create():
    if not FinancialYear.can_create(viewer()):
        abort(403)
    form = YearForm()
    if request.method == "GET" or not form.validate():
        return _year_page(form, 422 if request.method == "POST" else 200)
    try:
        year = service.create_year(form.start_year, return_due_days=form.due_days, by=viewer())
    except service.SetupError as error:
        return _year_page(form, refuse(form, error))
    db.session.commit()
    flash(f"The {year.label} financial year has been set up. Add its funding streams, priorities and projects.")
    return redirect(url_for("setup.year_view", year_label=year.label))


def year_edit(year_label: str):
    year = load_year(year_label)
    ensure_editable(year)
    form = YearForm(data={"label": year.label, "return_due_days": str(year.return_due_days)})
    del form.label  # a year's label is what it is; only its due days change
    if request.method == "GET" or not form.validate():
        return _year_page(form, 422 if request.method == "POST" else 200, year)
    try:
        service.update_year(year, return_due_days=form.due_days, by=viewer())
    except service.SetupError as error:
        return _year_page(form, refuse(form, error), year)
    db.session.commit()
    flash(f"Returns of {year.label} are now due {year.return_due_days} days after each quarter ends.")
    return redirect(url_for("setup.year_view", year_label=year.label))


# -- funding streams ----------------------------------------------------------------------------


def _stream_page(form: StreamForm, year: FinancialYear, stream: FundingStream | None, status: int = 200):
    return render_template("setup/stream_form.html", form=form, year=year, stream=stream), status


def _save_stream(form: StreamForm, year: FinancialYear, stream: FundingStream | None):
    if request.method == "GET" or not form.validate():
        return _stream_page(form, year, stream, 422 if request.method == "POST" else 200)
    fields = {"name": form.name.data, "funder": form.funder.data, "amount_pence": form.amount.pence}
    try:
        if stream is None:
            service.create_stream(year, **fields, by=viewer())
        else:
            service.update_stream(stream, **fields, by=viewer())
    except service.SetupError as error:
        return _stream_page(form, year, stream, refuse(form, error))
    db.session.commit()
    flash(f"Funding stream {form.name.data} saved.")
    return redirect(url_for("setup.year_view", year_label=year.label))


def stream_create(year_label: str):
    year = load_year(year_label)
    ensure_editable(year)
    return _save_stream(StreamForm(), year, None)


def stream_edit(stream_id: int):
    stream = load_stream(stream_id, check=FundingStream.can_set_up)
    ensure_editable(stream.year)
    saved = {"name": stream.name, "funder": stream.funder, "amount": plain_pounds(stream.amount_pence)}
    return _save_stream(StreamForm(data=saved), stream.year, stream)


# -- priorities ---------------------------------------------------------------------------------


def _save_priority(form: PriorityForm, year: FinancialYear, priority: Priority | None):
    if request.method == "GET" or not form.validate():
        status = 422 if request.method == "POST" else 200
        return render_template("setup/priority_form.html", form=form, year=year, priority=priority), status
    try:
        if priority is None:
            service.create_priority(year, name=form.name.data, rank=form.rank_number, by=viewer())
        else:
            service.update_priority(priority, name=form.name.data, rank=form.rank_number, by=viewer())
    except service.SetupError as error:
        status = refuse(form, error)
        return render_template("setup/priority_form.html", form=form, year=year, priority=priority), status
    db.session.commit()
    flash(f"Priority {form.name.data} saved.")
    return redirect(url_for("setup.year_view", year_label=year.label))


def priority_create(year_label: str):
    year = load_year(year_label)
    ensure_editable(year)
    return _save_priority(PriorityForm(), year, None)


def priority_edit(priority_id: int):
    priority = load_priority(priority_id, check=Priority.can_set_up)
    ensure_editable(priority.year)
    return _save_priority(
        PriorityForm(data={"name": priority.name, "rank": str(priority.rank)}), priority.year, priority
    )


# -- rolling over -------------------------------------------------------------------------------


def roll_over(year_label: str):
    """Check what starting the next year copies, then confirm. The year rolled over may be closed."""
    year = load_year(year_label)
    if not year.can_set_up(viewer()):
        abort(403)
    plan = service.roll_over_plan(year)
    form = ConfirmForm()
    if request.method == "GET" or not form.validate():
        status = 422 if request.method == "POST" else 200
        return render_template("setup/roll_over.html", plan=plan, form=form), status
    try:
        created = service.roll_over(year, by=viewer())
    except service.SetupError as error:
        return render_template("setup/roll_over.html", plan=plan, form=form), refuse(form, error)
    db.session.commit()
    flash(f"{created.label} has been started from {year.label}. Check its streams, projects and measures.")
    return redirect(url_for("setup.year_view", year_label=created.label))
