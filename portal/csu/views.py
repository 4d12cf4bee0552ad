"""The Community Safety Unit's pages: every project, budget against delivery."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.keep_text import keeps_text
from ..auth.loaders import load_project, load_year, pick_year
from ..extensions import db
from ..forms.arrangements import ReturnArrangementForm
from ..forms.returns import CsuRatingForm
from ..htmx import page_or_fragment
from ..models import FinancialYear, Project
from ..models.vocabulary import QUARTERS
from ..pagination import govuk_pagination
from ..services.arrangements import ArrangementError, set_arrangement
from ..services.charts import outputs_chart, spend_chart
from ..services.delivery import ProjectDelivery, project_delivery
from ..services.overview import RAG_FILTERS, SORT_KEYS, STATUS_FILTERS, OverviewPage, OverviewQuery, overview_page
from ..services.priorities import PrioritiesQuery, priorities_page
from ..services.ratings import set_csu_rating
from ..services.returns import ReturnError, attach_revisions, review_histories


def home(year_label: str | None):
    years, year = pick_year(year_label)
    if year is None:
        return render_template("csu/home.html", years=years, year=None)
    overview = overview_page(year, OverviewQuery.from_args(request.args))
    if overview.refreshed:
        db.session.commit()
    return page_or_fragment(
        "csu/home.html",
        "csu/_budget_table.html",
        years=years,
        year=year,
        overview=overview,
        rows=overview.rows,
        query=overview.query,
        totals=overview.totals,
        pagination=_pagination(year, overview),
        rag_filters=RAG_FILTERS,
        status_filters=STATUS_FILTERS,
        sort_labels={key: label for key, (label, _) in SORT_KEYS.items()},
    )


def _pagination(year: FinancialYear, overview: OverviewPage) -> dict[str, Any] | None:
    query = overview.query
    return govuk_pagination(
        overview.pages,
        query.page,
        lambda number: url_for("csu.home", year_label=year.label, **query.page_args(number)),
        "Pages of projects",
        htmx_target="#budget-table",
    )


def _rating_form(delivery, formdata=None) -> CsuRatingForm:
    current = delivery.csu_rating
    form = CsuRatingForm(
        formdata=formdata,
        data={"quarter": current.quarter, "rag": current.rag, "reason": current.reason} if current else None,
    )
    form.quarter.choices = [(q, f"Q{q}") for q in QUARTERS if delivery.is_open(q)]
    return form


def _arrangement_form(delivery: ProjectDelivery, formdata=None) -> ReturnArrangementForm:
    return ReturnArrangementForm(
        formdata=formdata,
        usual_due={q: delivery.project.year.quarter(q).due for q in QUARTERS},
        reported=set(delivery.reported_quarters),
        arranged=set(delivery.arrangements),
    )


def _project_page(
    delivery: ProjectDelivery,
    status: int = 200,
    *,
    form: CsuRatingForm | None = None,
    arrangement_form: ReturnArrangementForm | None = None,
):
    # Every quarter's history, and its submissions, in one query each.
    found = review_histories(delivery.returns.values())
    attach_revisions(delivery.returns.values())
    histories = {quarter: found.get(mreturn.id, []) for quarter, mreturn in delivery.returns.items()}
    output_charts = [
        chart
        for chart in (outputs_chart(figures, f"outputs-{figures.measure.id}") for figures in delivery.measures)
        if chart is not None
    ]
    form = form or _rating_form(delivery)
    arrangement_form = arrangement_form or _arrangement_form(delivery)
    return render_template(
        "csu/project.html",
        project=delivery.project,
        delivery=delivery,
        output_charts=output_charts,
        spend_chart=spend_chart(delivery, "spend"),
        form=form,
        arrangement_form=arrangement_form,
        has_errors=bool(form.errors or arrangement_form.errors),
        histories=histories,
    ), status


def project_view(project_id: int):
    # Finance and admin read the project; only who may rate it may post the rating form.
    project = load_project(project_id, check=Project.can_rate if request.method == "POST" else None)
    delivery = project_delivery(project)
    if request.method != "POST":
        return _project_page(delivery)
    form = _rating_form(delivery, request.form)
    if not form.validate():
        return _project_page(delivery, 422, form=form)
    try:
        set_csu_rating(project, form.quarter.data, form.rag.data, form.reason.data, by=current_user)
    except ReturnError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _project_page(delivery, 409, form=form)
    db.session.commit()
    flash(f"Your Q{form.quarter.data} rating has been saved.")
    return redirect(url_for("csu.project_view", project_id=project.id))


@keeps_text
def arrangement_save(project_id: int):
    """Extend a quarter's due date, mark its return not required, or restore the usual date."""
    project = load_project(project_id, check=Project.can_arrange_returns)
    delivery = project_delivery(project)
    form = _arrangement_form(delivery, request.form)
    if not form.validate():
        return _project_page(delivery, 422, arrangement_form=form)
    quarter, kind = form.quarter.data, form.arrangement.data
    try:
        set_arrangement(project, quarter, kind, due_on=form.due_on.data, reason=form.reason.data, by=current_user)
    except ArrangementError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _project_page(delivery, 409, arrangement_form=form)
    db.session.commit()
    flash(f"The Q{quarter} due date has been saved.")
    return redirect(url_for("csu.project_view", project_id=project.id, _anchor="due-dates"))


def priorities(year_label: str):
    year = load_year(year_label)
    found = priorities_page(year, PrioritiesQuery.from_args(request.args))
    if found.refreshed:
        db.session.commit()
    query = found.query
    pagination = govuk_pagination(
        found.page.pages,
        found.page.number,
        lambda number: url_for("csu.priorities", year_label=year.label, **query.args(page=number)),
        "Pages of projects by priority",
        htmx_target="#priority-projects",
    )
    return page_or_fragment(
        "csu/priorities.html", "csu/_priority_projects.html", year=year, found=found, pagination=pagination
    )
