"""The partner's quarterly return: outputs, spend, narrative, check your answers, submit.

Plain POST -> redirect -> GET; htmx only adds autosave. Every save carries the version it was
based on, and a stale one is refused with what changed, keeping what was typed on the page.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.keep_text import keeps_text
from ..auth.loaders import load_project
from ..calendar import uk_time
from ..extensions import db
from ..forms.returns import (
    NarrativeForm,
    ReturnSectionForm,
    SpendForm,
    SubmitReturnForm,
    outputs_form,
    plain_pounds,
)
from ..htmx import is_autosave
from ..models import MonitoringReturn, Project
from ..models.vocabulary import PERSONAL_DATA_SAVED, QUARTERS, SECTION_TITLES
from ..revision_pages import compare_page, revision_page
from ..security_log import security_event
from ..services import returns as service
from ..services.personal_data import Finding, find_personal_data, findings_for


def _load(project_id: int, quarter: int, *, revisions: bool = True):
    """The partner's own project and an open quarter (404 otherwise), with its return if one exists: read once a
    request, and handed to everything the page shows and saves (`revisions`: with its submissions)."""
    project = load_project(project_id, check=Project.can_edit_returns)
    if quarter not in QUARTERS:
        abort(404)
    if not service.quarter_is_open(project, quarter):
        # Not a missing page: say when it opens (and refuse anything sent to it).
        page = render_template("partner/return_not_open.html", project=project, quarter=project.year.quarter(quarter))
        abort(make_response(page, 200 if request.method == "GET" else 409))
    return project, service.find_return(project, quarter, revisions=revisions)


def _locked(project, mreturn: MonitoringReturn | None) -> bool:
    """Read-only: submitted or approved, or the year has been closed."""
    return project.year.is_closed or (mreturn is not None and not mreturn.is_editable)


def _version(mreturn: MonitoringReturn | None) -> int:
    return mreturn.version if mreturn else 0


def return_overview(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter)
    missing = service.missing_answers(project, mreturn)
    return render_template(
        "partner/return_overview.html",
        project=project,
        quarter=project.year.quarter(quarter),
        mreturn=mreturn,
        states=service.section_states(project, mreturn, missing),
        titles=SECTION_TITLES,
        missing=missing,
        review_history=service.review_history(mreturn),
        revision_endpoint="partner.return_revision",
        compare_endpoint="partner.return_compare",
        return_args={"project_id": project.id, "quarter": quarter},
    )


def _personal_data(form) -> dict[str, list[Finding]]:
    """What looks like personal data in each narrative answer on the form (as posted, or as saved)."""
    found = {name: find_personal_data(form[name].data) for name in service.NARRATIVE_FIELDS if name in form}
    return {name: findings for name, findings in found.items() if findings}


def _saved_text(mreturn: MonitoringReturn | None) -> set[tuple[str, str]]:
    """(answer, matched text) pairs in the saved narrative answers: to tell whether a save added new ones."""
    if mreturn is None:
        return set()
    fields = {name: getattr(mreturn, name) for name in service.NARRATIVE_FIELDS}
    return {(name, finding.text) for name, finding in findings_for(fields)}


def _respond(template: str, project, quarter: int, mreturn, form, status: int, **extra):
    if isinstance(form, ReturnSectionForm):
        extra["personal_data"] = _personal_data(form)
    return (
        render_template(
            template,
            project=project,
            quarter=project.year.quarter(quarter),
            mreturn=mreturn,
            form=form,
            locked=_locked(project, mreturn),
            **extra,
        ),
        status,
    )


# -- the three section pages: one way of working, three descriptions ------------------------------


def _outputs_form(project, mreturn, formdata, measures, outputs_context) -> ReturnSectionForm:
    if formdata is None:
        return outputs_form(measures, outputs_context, mreturn=mreturn, version=_version(mreturn))
    # A measure id that is not one of those asked for (another project's, a retired one) is a tampered form.
    allowed = {f"m{measure.id}" for measure in measures}
    if any(key.startswith("m") and key[1:].isdigit() and key not in allowed for key in formdata):
        security_event("access.denied", reason="tampered_form", status=404, endpoint=request.endpoint)
        abort(404)
    return outputs_form(measures, outputs_context, formdata=formdata, mreturn=mreturn)


def _spend_form(project, mreturn, formdata, **context) -> ReturnSectionForm:
    max_pence = current_app.config["MAX_QUARTER_SPEND_PENCE"]
    if formdata is not None:
        return SpendForm(formdata=formdata, max_pence=max_pence)
    saved = {
        "version": str(_version(mreturn)),
        "spend": plain_pounds(mreturn.spend_pence) if mreturn else "",
        "spend_explanation": mreturn.spend_explanation if mreturn else "",
    }
    return SpendForm(max_pence=max_pence, data=saved)


NARRATIVE_ANSWERS = ("progress", "case_study", "challenges", "partner_rag", "partner_rag_reason")


def _narrative_form(project, mreturn, formdata) -> ReturnSectionForm:
    if formdata is not None:
        return NarrativeForm(formdata=formdata)
    saved = {"version": str(_version(mreturn))}
    if mreturn is not None:
        saved.update({name: getattr(mreturn, name) or "" for name in NARRATIVE_ANSWERS})
    return NarrativeForm(data=saved)


def _outputs_context(project, quarter: int, mreturn: MonitoringReturn | None, shown: bool = True) -> dict:
    measures = service.return_measures(project, mreturn)
    # An autosave is answered with a status line, never the fields: it needs the measures, not their hints.
    outputs_context = service.output_context(project, quarter, measures) if shown else None
    return {"measures": measures, "outputs_context": outputs_context}


def _spend_so_far(project, quarter: int, mreturn: MonitoringReturn | None, shown: bool = True) -> dict:
    if not shown:
        return {}
    before, quarters = service.reported_spend_before(project, quarter)
    return {"spend_before": before, "quarters_before": quarters, "spend_rule": service.spend_rule(project, quarter)}


@dataclass(frozen=True)
class Section:
    """What differs between the outputs, spend and narrative pages; `_section` does the rest."""

    name: str
    template: str
    next_page: str  # where Save and continue goes
    form: Callable[..., ReturnSectionForm]  # (project, mreturn, formdata, **context); no formdata: as saved
    answers: Callable[[Project, ReturnSectionForm], dict[str, object]]  # posted, by their names on the page
    save: Callable[..., MonitoringReturn]  # (project, quarter, answers, *, version, by, editor, autosave, current)
    # What the page shows beside the form, from the return as loaded (project, quarter, return, shown); shown=False
    # for an autosave, answered with a status line: only what the form needs to read the answers
    context: Callable[..., dict] = lambda project, quarter, mreturn, shown=True: {}


OUTPUTS = Section(
    name="outputs",
    template="partner/return_outputs.html",
    next_page="partner.return_spend",
    form=_outputs_form,
    answers=lambda project, form: {f"m{m.id}": form[f"m{m.id}"].parsed for m in form.measures},
    save=lambda project, quarter, answers, **who: service.save_outputs(
        project, quarter, {int(name[1:]): value for name, value in answers.items()}, **who
    ),
    context=_outputs_context,
)
SPEND = Section(
    name="spend",
    template="partner/return_spend.html",
    next_page="partner.return_narrative",
    form=_spend_form,
    answers=lambda project, form: {"spend": form.spend.pence, "spend_explanation": form.spend_explanation.data},
    save=lambda project, quarter, answers, **who: service.save_spend(
        project, quarter, answers["spend"], answers["spend_explanation"], **who
    ),
    context=_spend_so_far,
)
NARRATIVE = Section(
    name="narrative",
    template="partner/return_narrative.html",
    next_page="partner.return_check",
    form=_narrative_form,
    answers=lambda project, form: {name: form[name].data or None for name in NARRATIVE_ANSWERS},
    save=service.save_narrative,
)


def _section(section: Section, project_id: int, quarter: int):
    """A section's page. Its answers are saved and the partner moves on; or the page is shown again with
    what to correct (422) or why they were not saved (409). An autosave is answered with a status fragment.
    The return is read once, here, and handed to the form, the page's context and the save."""
    project, mreturn = _load(project_id, quarter, revisions=False)
    autosave = request.method == "POST" and is_autosave()
    context = section.context(project, quarter, mreturn, shown=not autosave)
    if request.method == "GET":
        form = section.form(project, mreturn, None, **context)
        return _respond(section.template, project, quarter, mreturn, form, 200, **context)
    form = section.form(project, mreturn, request.form, **context)
    found_before = set() if autosave else _saved_text(mreturn)
    saved, status = _save(section, project, quarter, form, mreturn, autosave)
    if autosave:
        # Answered from what is in memory, then committed: nothing is read again after the commit.
        return _committed(_autosave_status(form, saved, status), saved)
    if saved is None:
        return _respond(section.template, project, quarter, mreturn, form, status, **context)
    saved_at = uk_time(saved.updated_at)
    new_findings = bool(_saved_text(saved) - found_before)
    db.session.commit()
    if new_findings:
        # Saved, but something new looks like personal data: the page again, with the warning beside the answer.
        flash(f"Your answers were saved at {saved_at}. {PERSONAL_DATA_SAVED}")
        return redirect(url_for(request.endpoint or "", project_id=project.id, quarter=quarter))
    if form.continuing:
        # From "Change" on Check your answers: back there, not through every later section.
        after = "partner.return_check" if request.args.get("from") == "check" else section.next_page
        return redirect(url_for(after, project_id=project.id, quarter=quarter))
    flash(f"Your answers were saved at {saved_at}. You can come back to them at any time.")
    return redirect(url_for("partner.return_overview", project_id=project.id, quarter=quarter))


def _committed(response, saved: MonitoringReturn | None):
    if saved is not None:
        db.session.commit()
    return response


def _save(
    section: Section, project, quarter: int, form, mreturn: MonitoringReturn | None, autosave: bool
) -> tuple[MonitoringReturn | None, int]:
    """(the return, saved and flushed, 200: the caller commits); or (None, 422) with what to correct, or
    (None, 409) with why the service refused, keeping what was typed."""
    if not form.validate() or form.version_number is None:
        if form.version_number is None:
            form.form_errors.append("Something went wrong with the form: go back to the return and try again")
        return None, 422
    answers = section.answers(project, form)
    # A draft may keep blanks; Save and continue needs every required answer of the page.
    if form.continuing and not form.require(service.unanswered(project, quarter, answers, section.name)):
        return None, 422
    try:
        saved = section.save(
            project,
            quarter,
            answers,
            version=form.version_number,
            by=current_user,
            editor=form.editor_token,
            autosave=autosave,
            current=mreturn,
        )
    except service.ReturnError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        if isinstance(error, service.ReturnConflict) and error.current is not None:
            what, posted = f"save of {section.name}", form.version_number
            service.record_refused_change(error.current, what=what, posted_version=posted, by=current_user)
            db.session.commit()
            form.version.data = str(error.current.version)  # so a deliberate second save wins
        return None, 409
    return saved, 200


def _autosave_status(form, saved: MonitoringReturn | None, status: int):
    """The fragment an autosave swaps into #autosave-status; a saved one moves the form to the new version."""
    if saved is not None:
        message = f"Draft saved at {uk_time(saved.updated_at)}"
        return _fragment("partner/_autosave_status.html", message=message, version=saved.version)
    if status == 409:
        message = form.form_errors[-1]
    else:
        fields = [field.label.text for field in form if field.errors]
        message = "Draft not saved: check " + ", ".join(fields) if fields else "Draft not saved"
    return _fragment("partner/_autosave_status.html", message=message, failed=True), status


def _fragment(template: str, **context) -> str:
    """A fragment that needs none of the page's shared context (who is signed in, the navigation, the demo-data
    banner): rendered without the context processors and their queries."""
    return current_app.jinja_env.get_template(template).render(**context)


def return_personal_data_check(project_id: int, quarter: int):
    """One narrative answer checked as it is typed (htmx): the warning to show beside it. The text is only
    read here: never saved, never logged."""
    _load(project_id, quarter)  # the partner's own project and an open quarter, or 404
    name = request.form.get("field", "")
    if name not in service.NARRATIVE_FIELDS:
        return render_template("partner/_personal_data.html", findings=[]), 422
    return render_template(
        "partner/_personal_data.html",
        label=service.NARRATIVE_FIELDS[name],
        findings=find_personal_data(request.form.get(name, "")),
    )


@keeps_text
def return_outputs(project_id: int, quarter: int):
    return _section(OUTPUTS, project_id, quarter)


@keeps_text
def return_spend(project_id: int, quarter: int):
    return _section(SPEND, project_id, quarter)


@keeps_text
def return_narrative(project_id: int, quarter: int):
    return _section(NARRATIVE, project_id, quarter)


def _findings(mreturn: MonitoringReturn | None):
    return [(service.NARRATIVE_FIELDS[name], finding) for name, finding in service.personal_data_findings(mreturn)]


def _submittable(form, findings) -> bool:
    """The form is whole, and answers which look personal come with the partner's reason why they are not."""
    key = form.submission_key.data or ""
    if not (form.validate() and (form.version.data or "").isdigit() and 16 <= len(key) <= 64):
        if not form.errors:
            form.form_errors.append("Something went wrong with the form: go back to the return and try again")
        return False
    if findings and not form.personal_data_reason.data:
        form.personal_data_reason.errors = [service.PERSONAL_DATA_REASON_NEEDED]
        return False
    return True


def _check_page(project, quarter: int, mreturn, form, status: int):
    return _respond(
        "partner/return_check.html",
        project,
        quarter,
        mreturn,
        form,
        status,
        findings=_findings(mreturn),
        missing=service.missing_answers(project, mreturn),
        answers=service.current_answers(project, mreturn),
    )


@keeps_text
def return_check(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter, revisions=False)
    if request.method == "GET":
        form = SubmitReturnForm(data={"version": str(_version(mreturn)), "submission_key": secrets.token_hex(16)})
        return _check_page(project, quarter, mreturn, form, 200)
    form = SubmitReturnForm(formdata=request.form)
    if not _submittable(form, _findings(mreturn)):
        return _check_page(project, quarter, mreturn, form, 422)
    try:
        result = service.submit_return(
            project,
            quarter,
            version=int(form.version.data),
            submission_key=form.submission_key.data,
            by=current_user,
            personal_data_reason=form.personal_data_reason.data,
        )
    except service.ReturnError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        if isinstance(error, service.ReturnConflict):  # the answers as saved now, to check again
            mreturn = error.current
            form.version.data = str(_version(mreturn))
        return _check_page(project, quarter, mreturn, form, 409)
    db.session.commit()
    revision = result.revision.number
    return redirect(url_for("partner.return_submitted", project_id=project.id, quarter=quarter, revision=revision))


def return_submitted(project_id: int, quarter: int, revision: int):
    project, mreturn = _load(project_id, quarter)
    if mreturn is None or not any(item.number == revision for item in mreturn.revisions):
        abort(404)
    return render_template(
        "partner/return_submitted.html",
        project=project,
        quarter=project.year.quarter(quarter),
        mreturn=mreturn,
        revision=revision,
    )


def return_revision(project_id: int, quarter: int, number: int):
    project, mreturn = _load(project_id, quarter)
    return revision_page(
        mreturn, number, back=url_for("partner.return_overview", project_id=project.id, quarter=quarter)
    )


def return_compare(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter)
    return compare_page(mreturn, back=url_for("partner.return_overview", project_id=project.id, quarter=quarter))
