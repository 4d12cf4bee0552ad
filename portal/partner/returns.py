"""The partner's quarterly return: outputs, spend, narrative, check your answers, submit.

Plain POST -> redirect -> GET; htmx only adds autosave. Every save carries the version it was
based on, and a stale one is refused with what changed, keeping what was typed on the page.
"""

from __future__ import annotations

import secrets

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.keep_text import keeps_text
from ..calendar import uk_time
from ..extensions import db
from ..forms.returns import NarrativeForm, SpendForm, SubmitReturnForm, outputs_form, plain_pounds
from ..htmx import is_autosave
from ..models import MonitoringReturn, ReturnRevision
from ..services import returns as service
from ..services.personal_data import findings_for
from .views import project_for_partner

SECTIONS = ("outputs", "spend", "narrative")
SECTION_TITLES = {"outputs": "Outputs", "spend": "Spend", "narrative": "Progress and rating"}
NEXT_PAGE = {
    "outputs": "partner.return_spend",
    "spend": "partner.return_narrative",
    "narrative": "partner.return_check",
}


def _load(project_id: int, quarter: int):
    """The partner's own project and an open quarter (404 otherwise), with its return if one exists."""
    project = project_for_partner(project_id)
    if quarter not in (1, 2, 3, 4) or not service.quarter_is_open(project, quarter):
        abort(404)
    return project, service.find_return(project, quarter)


def _locked(project, mreturn: MonitoringReturn | None) -> bool:
    """Read-only: submitted or approved, or the year has been closed."""
    return project.year.closed_at is not None or (mreturn is not None and not mreturn.is_editable)


def _version(mreturn: MonitoringReturn | None) -> int:
    return mreturn.version if mreturn else 0


def _section_states(project, mreturn) -> dict[str, str]:
    missing = {section for section, _ in service.missing_answers(project, mreturn)}
    started = mreturn is not None
    states = {}
    for section in SECTIONS:
        if section not in missing:
            states[section] = "Completed"
        elif started and _section_started(section, project, mreturn):
            states[section] = "In progress"
        else:
            states[section] = "Not started"
    return states


def _section_started(section: str, project, mreturn) -> bool:
    if section == "outputs":
        return any(value.value is not None for value in mreturn.values)
    if section == "spend":
        return mreturn.spend_pence is not None
    return any(getattr(mreturn, name) for name in ("progress", "case_study", "challenges", "partner_rag"))


def return_overview(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter)
    return render_template(
        "partner/return_overview.html",
        project=project,
        quarter=project.year.quarter(quarter),
        mreturn=mreturn,
        states=_section_states(project, mreturn),
        titles=SECTION_TITLES,
        missing=service.missing_answers(project, mreturn),
        review_history=service.review_history(mreturn),
        revision_endpoint="partner.return_revision",
        compare_endpoint="partner.return_compare",
        return_args={"project_id": project.id, "quarter": quarter},
    )


def _respond(template: str, project, quarter: int, mreturn, form, status: int, **extra):
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


def _saved(project, quarter: int, mreturn: MonitoringReturn, section: str, form):
    db.session.commit()
    if is_autosave():
        return render_template(
            "partner/_autosave_status.html",
            message=f"Draft saved at {uk_time(mreturn.updated_at)}",
            version=mreturn.version,
        )
    if form.continuing:
        return redirect(url_for(NEXT_PAGE[section], project_id=project.id, quarter=quarter))
    flash(f"Your answers were saved at {uk_time(mreturn.updated_at)}. You can come back to them at any time.")
    return redirect(url_for("partner.return_overview", project_id=project.id, quarter=quarter))


def _not_saved(form, message: str, current: MonitoringReturn | None, status: int):
    """Keep what was typed; offer the version now saved so a deliberate second save wins."""
    db.session.rollback()
    form.form_errors.append(message)
    form.http_status = status
    if current is not None:
        form.version.data = str(current.version)
    if is_autosave():
        return render_template("partner/_autosave_status.html", message=message, failed=True), status
    return None


def _check_version(form) -> None:
    if form.version_number is None:
        form.form_errors.append("Something went wrong with the form: go back to the return and try again")


def _status(form) -> int:
    """422 for answers that need correcting, 409 when the return changed or is locked."""
    return getattr(form, "http_status", 422)


def _invalid_autosave(form):
    fields = [field.label.text for field in form if field.errors]
    message = "Draft not saved: check " + ", ".join(fields) if fields else "Draft not saved"
    return render_template("partner/_autosave_status.html", message=message, failed=True), 422


def _save_section(project, quarter: int, form, section: str, save):
    """Save a section; a conflict or a locked return becomes a message on the page (None is returned)."""
    try:
        saved = save()
    except service.ReturnConflict as conflict:
        return _not_saved(form, str(conflict), conflict.current, 409)
    except service.ReturnError as error:
        return _not_saved(form, str(error), None, 409)
    return _saved(project, quarter, saved, section, form)


@keeps_text
def return_outputs(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter)
    previous = service.previous_return(project, quarter)
    if request.method == "GET":
        form = outputs_form(project, previous, mreturn=mreturn, version=_version(mreturn))
        return _respond("partner/return_outputs.html", project, quarter, mreturn, form, 200, previous=previous)
    # A measure id that is not one of this project's is a tampered form.
    allowed = {f"m{measure.id}" for measure in project.measures}
    if any(key.startswith("m") and key[1:].isdigit() and key not in allowed for key in request.form):
        abort(404)
    form = outputs_form(project, previous, formdata=request.form, mreturn=mreturn)
    if form.validate() and form.version_number is not None:
        values = {measure.id: form[f"m{measure.id}"].parsed for measure in project.measures}
        posted = {f"m{measure_id}": value for measure_id, value in values.items()}
        if not form.continuing or form.require(service.unanswered(project, quarter, posted, "outputs")):
            result = _save_section(
                project,
                quarter,
                form,
                "outputs",
                lambda: service.save_outputs(
                    project, quarter, values, version=form.version_number, by=current_user, editor=form.editor_token
                ),
            )
            if result is not None:
                return result
    if is_autosave():
        return _invalid_autosave(form)
    _check_version(form)
    return _respond("partner/return_outputs.html", project, quarter, mreturn, form, _status(form), previous=previous)


@keeps_text
def return_spend(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter)
    max_pence = current_app.config["MAX_QUARTER_SPEND_PENCE"]
    before, quarters = service.reported_spend_before(project, quarter)
    context = {"spend_before": before, "quarters_before": quarters}
    if request.method == "GET":
        form = SpendForm(
            max_pence=max_pence,
            data={
                "version": str(_version(mreturn)),
                "spend": plain_pounds(mreturn.spend_pence) if mreturn else "",
                "spend_explanation": mreturn.spend_explanation if mreturn else "",
            },
        )
        return _respond("partner/return_spend.html", project, quarter, mreturn, form, 200, **context)
    form = SpendForm(formdata=request.form, max_pence=max_pence)
    if form.validate() and form.version_number is not None:
        spend = form.spend.pence
        answers = {"spend": spend, "spend_explanation": form.spend_explanation.data}
        # A draft may keep its spend while the explanation is written later; moving on needs it.
        if not form.continuing or form.require(service.unanswered(project, quarter, answers, "spend")):
            result = _save_section(
                project,
                quarter,
                form,
                "spend",
                lambda: service.save_spend(
                    project,
                    quarter,
                    spend,
                    form.spend_explanation.data,
                    version=form.version_number,
                    by=current_user,
                    editor=form.editor_token,
                ),
            )
            if result is not None:
                return result
    if is_autosave():
        return _invalid_autosave(form)
    _check_version(form)
    return _respond("partner/return_spend.html", project, quarter, mreturn, form, _status(form), **context)


NARRATIVE_ANSWERS = ("progress", "case_study", "challenges", "partner_rag", "partner_rag_reason")


@keeps_text
def return_narrative(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter)
    if request.method == "GET":
        data = {"version": str(_version(mreturn))}
        if mreturn is not None:
            data.update({name: getattr(mreturn, name) or "" for name in NARRATIVE_ANSWERS})
        form = NarrativeForm(data=data)
        return _respond("partner/return_narrative.html", project, quarter, mreturn, form, 200)
    form = NarrativeForm(formdata=request.form)
    if form.validate() and form.version_number is not None:
        answers = {name: form[name].data or None for name in NARRATIVE_ANSWERS}
        if not form.continuing or form.require(service.unanswered(project, quarter, answers, "narrative")):
            result = _save_section(
                project,
                quarter,
                form,
                "narrative",
                lambda: service.save_narrative(
                    project, quarter, answers, version=form.version_number, by=current_user, editor=form.editor_token
                ),
            )
            if result is not None:
                return result
    if is_autosave():
        return _invalid_autosave(form)
    _check_version(form)
    return _respond("partner/return_narrative.html", project, quarter, mreturn, form, _status(form))


def _findings(mreturn: MonitoringReturn | None):
    if mreturn is None:
        return []
    fields = {label: getattr(mreturn, name) for name, label in service.NARRATIVE_FIELDS.items()}
    return findings_for(fields)


def _submittable(form, findings) -> bool:
    """The form is whole, and the partner has confirmed that answers which look personal are not."""
    key = form.submission_key.data or ""
    if not (form.validate() and (form.version.data or "").isdigit() and 16 <= len(key) <= 64):
        form.form_errors.append("Something went wrong with the form: go back to the return and try again")
        return False
    if findings and not form.confirm_no_personal_data.data:
        form.confirm_no_personal_data.errors = [
            "Confirm that you have checked these answers contain no personal information"
        ]
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
    project, mreturn = _load(project_id, quarter)
    if request.method == "GET":
        form = SubmitReturnForm(data={"version": str(_version(mreturn)), "submission_key": secrets.token_hex(16)})
        return _check_page(project, quarter, mreturn, form, 200)
    form = SubmitReturnForm(formdata=request.form)
    if not _submittable(form, _findings(mreturn)):
        return _check_page(project, quarter, mreturn, form, 422)
    try:
        result = service.submit_return(
            project, quarter, version=int(form.version.data), submission_key=form.submission_key.data, by=current_user
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


def _revision_or_404(mreturn: MonitoringReturn | None, number: int) -> ReturnRevision:
    older, _ = service.revisions_to_compare(mreturn, number, number)
    if older is None:
        abort(404)
    return older


def return_revision(project_id: int, quarter: int, number: int):
    project, mreturn = _load(project_id, quarter)
    revision = _revision_or_404(mreturn, number)
    return render_template(
        "returns/revision.html",
        project=project,
        quarter=project.year.quarter(quarter),
        mreturn=mreturn,
        revision=revision,
        answers=service.revision_answers(project, revision),
        back=url_for("partner.return_overview", project_id=project.id, quarter=quarter),
    )


def return_compare(project_id: int, quarter: int):
    project, mreturn = _load(project_id, quarter)
    older, newer = service.revisions_to_compare(
        mreturn, request.args.get("from", type=int), request.args.get("to", type=int)
    )
    if older is None:
        abort(404)
    return render_template(
        "returns/compare.html",
        project=project,
        quarter=project.year.quarter(quarter),
        mreturn=mreturn,
        older=older,
        newer=newer,
        rows=service.compare_revisions(project, older, newer),
        back=url_for("partner.return_overview", project_id=project.id, quarter=quarter),
    )
