"""The set-up of a year's projects and their output measures."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from ..auth.loaders import load_measure, load_project, load_year
from ..extensions import db
from ..forms.returns import plain_pounds
from ..forms.setup import ConfirmForm, MeasureForm, ProjectForm
from ..models import FinancialYear, FundingStream, OutputMeasure, Priority, Project
from ..models.vocabulary import DECIMAL, WHOLE
from ..money import format_pence
from ..quantities import plain_quantity
from ..services import setup as service
from ..services.organisations import open_organisations
from .pages import ensure_editable, refuse, viewer


def project_view(project_id: int):
    project = load_project(project_id)
    return render_template(
        "setup/project.html",
        project=project,
        editable=project.year.setup_is_editable_by(viewer()),
    )


# -- projects -----------------------------------------------------------------------------------


def _choices(form: ProjectForm, year: FinancialYear, allocations: list[service.Allocation]) -> None:
    if form.organisation is not None:
        form.organisation.choices = [SelectChoice("", "Select an organisation")] + [
            SelectChoice(str(organisation.id), f"{organisation.name} ({organisation.short_name})")
            for organisation in open_organisations()
        ]
    form.funding_stream.choices = [SelectChoice("", "Select a funding stream")] + [
        SelectChoice(str(item.stream.id), f"{item.stream.name}: {format_pence(item.unallocated_pence)} unallocated")
        for item in allocations
    ]
    form.priority.choices = [SelectChoice("", "No priority")] + [
        SelectChoice(str(priority.id), f"{priority.rank}. {priority.name}") for priority in year.priorities
    ]


def _chosen(year: FinancialYear, form: ProjectForm) -> service.ProjectFields:
    stream = db.session.get(FundingStream, int(form.funding_stream.data))
    priority = db.session.get(Priority, int(form.priority.data)) if form.priority.data else None
    assert stream is not None  # the form only accepts its choices
    return service.ProjectFields(
        name=form.name.data,
        funding_stream=stream,
        priority=priority,
        amount_pence=form.amount.pence,
        actions=form.action_list,
        description=form.description.data or None,
        spend_profile=form.spend_profile,
    )


def _project_page(form: ProjectForm, year: FinancialYear, project: Project | None, allocations, status: int = 200):
    return render_template(
        "setup/project_form.html", form=form, year=year, project=project, allocations=allocations
    ), status


def _over_allocation(form: ProjectForm) -> service.OverAllocation:
    return service.OverAllocation(confirmed=form.confirmed, reason=form.over_allocation_reason.data or None)


def _save_project(form: ProjectForm, year: FinancialYear, project: Project | None):
    allocations = service.stream_allocations(year)
    _choices(form, year, allocations)
    if request.method == "GET" or not form.validate():
        return _project_page(form, year, project, allocations, 422 if request.method == "POST" else 200)
    try:
        if project is None:
            organisation = service.organisation(int(form.organisation.data))
            project = service.create_project(
                year, organisation, _chosen(year, form), over_allocation=_over_allocation(form), by=viewer()
            )
        else:
            service.update_project(
                project,
                _chosen(year, form),
                award_reason=form.award_reason.data or None,
                over_allocation=_over_allocation(form),
                by=viewer(),
            )
    except service.SetupError as error:
        form.confirms = error.confirms
        return _project_page(form, year, project, allocations, refuse(form, error))
    db.session.commit()
    flash(f"Project {project.name} saved.")
    return redirect(url_for("setup.project_view", project_id=project.id))


def project_create(year_label: str):
    year = load_year(year_label)
    ensure_editable(year)
    form = ProjectForm()
    del form.award_reason  # a new project's award is its first
    return _save_project(form, year, None)


def project_edit(project_id: int):
    project = load_project(project_id, check=Project.can_set_up)
    ensure_editable(project.year)
    saved = {
        "organisation": str(project.organisation_id),
        "name": project.name,
        "funding_stream": str(project.funding_stream_id),
        "amount": plain_pounds(project.amount_pence),
        "priority": str(project.priority_id or ""),
        "actions": ", ".join(project.actions or []),
        "description": project.description or "",
        **{f"q{q}_profile": plain_pounds(pence) for q, pence in enumerate(project.spend_profile or [], start=1)},
    }
    form = ProjectForm(data=saved)
    del form.organisation  # a project stays with its organisation: its returns and payments are theirs
    return _save_project(form, project.year, project)


# -- measures -----------------------------------------------------------------------------------


def _measure_page(form: MeasureForm, project: Project, measure: OutputMeasure | None, status: int = 200):
    return render_template("setup/measure_form.html", form=form, project=project, measure=measure), status


def _save_measure(form: MeasureForm, project: Project, measure: OutputMeasure | None):
    if request.method == "GET" or not form.validate():
        return _measure_page(form, project, measure, 422 if request.method == "POST" else 200)
    fields = service.MeasureFields(
        name=form.name.data,
        unit=form.unit.data,
        definition=form.definition.data or None,
        combine=form.combine.data,
        decimals=form.decimals.data == DECIMAL,
        counts_people=bool(form.counts_people.data),
        annual_target=getattr(form.annual_target, "parsed", None),
        quarterly_targets=form.quarterly_targets,
    )
    try:
        if measure is None:
            service.create_measure(project, fields, by=viewer())
        else:
            service.update_measure(measure, fields, by=viewer())
    except service.SetupError as error:
        return _measure_page(form, project, measure, refuse(form, error))
    db.session.commit()
    flash(f"Measure {fields.name} saved.")
    return redirect(url_for("setup.project_view", project_id=project.id))


def measure_create(project_id: int):
    project = load_project(project_id, check=Project.can_set_up)
    ensure_editable(project.year)
    return _save_measure(MeasureForm(data={"combine": "sum", "decimals": WHOLE}), project, None)


def measure_edit(measure_id: int):
    measure = load_measure(measure_id, check=OutputMeasure.can_set_up)
    ensure_editable(measure.project.year)
    saved = {
        "name": measure.name,
        "unit": measure.unit,
        "definition": measure.definition or "",
        "combine": measure.combine,
        "decimals": DECIMAL if measure.decimals else WHOLE,
        "counts_people": measure.counts_people,
        "annual_target": plain_quantity(measure.annual_target),
        **{f"q{q}_target": plain_quantity(target) for q, target in enumerate(measure.quarterly_targets, start=1)},
    }
    return _save_measure(MeasureForm(data=saved), measure.project, measure)


def measure_retire(measure_id: int):
    """Check before retiring: it cannot be undone here (the set-up workbook can ask for it again)."""
    measure = load_measure(measure_id, check=OutputMeasure.can_set_up)
    ensure_editable(measure.project.year)
    form = ConfirmForm()
    if request.method == "GET" or not form.validate():
        status = 422 if request.method == "POST" else 200
        return render_template("setup/measure_retire.html", form=form, measure=measure), status
    try:
        service.retire_measure(measure, by=viewer())
    except service.SetupError as error:
        return render_template("setup/measure_retire.html", form=form, measure=measure), refuse(form, error)
    db.session.commit()
    flash(f"{measure.name} is retired: new returns no longer ask for it, and its figures are kept.")
    return redirect(url_for("setup.project_view", project_id=measure.project_id))
