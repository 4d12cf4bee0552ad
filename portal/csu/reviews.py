"""The CSU's review of submitted returns: a queue, the return beside last quarter and the targets,
approve or send back with a comment, and reopen an approved return with a reason."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.keep_text import keeps_text
from ..auth.loaders import load_return
from ..database import forget_overwritten_pages
from ..extensions import db
from ..forms.returns import ApproveForm, RedactionForm, ReopenForm, RequestChangesForm
from ..htmx import page_or_fragment
from ..models import MonitoringReturn
from ..models.vocabulary import NARRATIVE_FIELDS, NO_TARGET, NO_VALUE, PERSONAL_DATA_FLAG, PERSONAL_DATA_REMOVAL_COMMENT
from ..pagination import govuk_pagination, page_number
from ..quantities import format_quantity
from ..revision_pages import compare_page, revision_page
from ..services import redaction
from ..services import returns as service


def review_queue():
    queue = service.review_queue(page_number(request.args))
    pagination = govuk_pagination(
        queue.page.pages,
        queue.page.number,
        lambda number: url_for("csu.review_queue", page=number) if number > 1 else url_for("csu.review_queue"),
        "Pages of returns to review",
        htmx_target="#review-queue",
    )
    return page_or_fragment(
        "csu/review_queue.html",
        "csu/_review_queue.html",
        queue=queue,
        returns=queue.returns,
        pagination=pagination,
        flag=PERSONAL_DATA_FLAG,
    )


def _personal_data(mreturn: MonitoringReturn) -> dict:
    """What looks like personal data in the return (the CSU needs the words to judge), the partner's reason
    from the latest revision, and the standard comment that sends it back to have it removed."""
    findings = service.personal_data_findings(mreturn)
    labels = list(dict.fromkeys(finding.label for _, finding in findings))
    latest = mreturn.revisions[-1] if mreturn.revisions else None
    return {
        "personal_data": [(NARRATIVE_FIELDS[name], finding) for name, finding in findings],
        "personal_data_revision": latest if latest is not None and latest.overrode_personal_data else None,
        "removal_comment": PERSONAL_DATA_REMOVAL_COMMENT.format(kinds=", ".join(labels)),
        # Submissions still holding it (an earlier one keeps it after the partner removed it): the CSU can redact.
        "revisions_with_personal_data": redaction.revisions_with_personal_data(mreturn),
        "flag": PERSONAL_DATA_FLAG,
    }


def _shown(value: Decimal | None, absent: str) -> str:
    return format_quantity(value) if value is not None else absent


def _comparison_rows(mreturn: MonitoringReturn, previous: MonitoringReturn | None) -> list[dict]:
    project = mreturn.project
    rows = []
    for measure in project.measures:
        target = measure.quarterly_targets[mreturn.quarter - 1]
        rows.append(
            {
                "name": measure.name,
                "unit": measure.unit,
                "this": _shown(mreturn.value_of(measure.id), NO_VALUE),
                "previous": _shown(previous.value_of(measure.id) if previous else None, NO_VALUE),
                "target": _shown(target, NO_TARGET),
                "annual_target": _shown(measure.annual_target, NO_TARGET),
            }
        )
    return rows


def _render(mreturn: MonitoringReturn, status: int = 200, **forms):
    # The quarters before this one, read once: last quarter's figures beside this one's, and the year to date.
    earlier = service.earlier_returns(mreturn.project, mreturn.quarter)
    previous = service.previous_return(mreturn.project, mreturn.quarter, earlier)
    version = str(mreturn.version)
    forms.setdefault("approve_form", ApproveForm(formdata=None, data={"version": version}))
    forms.setdefault("changes_form", RequestChangesForm(formdata=None, data={"version": version}))
    forms.setdefault("reopen_form", ReopenForm(formdata=None, data={"version": version}))
    return (
        render_template(
            "csu/return_review.html",
            mreturn=mreturn,
            project=mreturn.project,
            quarter=mreturn.project.year.quarter(mreturn.quarter),
            previous=previous,
            rows=_comparison_rows(mreturn, previous),
            answers=service.current_answers(mreturn.project, mreturn, earlier=earlier),
            review_history=service.review_history(mreturn),
            revision_endpoint="csu.return_revision",
            compare_endpoint="csu.return_compare",
            return_args={"return_id": mreturn.id},
            has_errors=any(form.errors for form in forms.values()),
            **_personal_data(mreturn),
            **forms,
        ),
        status,
    )


def return_review(return_id: int):
    return _render(load_return(return_id))


# What the audit trail calls a decision refused because the return changed after the page was opened.
REFUSED_DECISIONS = {"approve_form": "approval", "changes_form": "request for changes", "reopen_form": "reopening"}


def _decide(mreturn: MonitoringReturn, form, action, done: str, form_name: str):
    if not form.validate() or not (form.version.data or "").isdigit():
        return _render(mreturn, 422, **{form_name: form})
    try:
        action(int(form.version.data))
    except service.ReturnConflict:
        db.session.rollback()
        form.form_errors.append("This return changed after you opened it. Check it again before you decide.")
        mreturn = load_return(mreturn.id)
        what, posted = REFUSED_DECISIONS[form_name], int(form.version.data)
        service.record_refused_change(mreturn, what=what, posted_version=posted, by=current_user)
        db.session.commit()
        form.version.data = str(mreturn.version)
        return _render(mreturn, 409, **{form_name: form})
    except service.ReturnError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _render(load_return(mreturn.id), 409, **{form_name: form})
    db.session.commit()
    flash(done)
    return redirect(url_for("csu.review_queue"))


def return_approve(return_id: int):
    mreturn = load_return(return_id, check=MonitoringReturn.can_review)
    form = ApproveForm(formdata=request.form)
    return _decide(
        mreturn,
        form,
        lambda version: service.approve_return(mreturn, version=version, by=current_user),
        f"Approved the Q{mreturn.quarter} return for {mreturn.project.name}.",
        "approve_form",
    )


@keeps_text
def return_request_changes(return_id: int):
    mreturn = load_return(return_id, check=MonitoringReturn.can_review)
    form = RequestChangesForm(formdata=request.form)
    return _decide(
        mreturn,
        form,
        lambda version: service.request_changes(mreturn, version=version, comment=form.comment.data, by=current_user),
        f"Sent the Q{mreturn.quarter} return for {mreturn.project.name} back for changes.",
        "changes_form",
    )


@keeps_text
def return_reopen(return_id: int):
    mreturn = load_return(return_id, check=MonitoringReturn.can_review)
    form = ReopenForm(formdata=request.form)
    return _decide(
        mreturn,
        form,
        lambda version: service.reopen_return(mreturn, version=version, reason=form.reason.data, by=current_user),
        f"Reopened the Q{mreturn.quarter} return for {mreturn.project.name}.",
        "reopen_form",
    )


def return_revision(return_id: int, number: int):
    mreturn = load_return(return_id)
    redact = "csu.return_redact" if mreturn.can_redact(current_user) else None
    return revision_page(
        mreturn, number, back=url_for("csu.return_review", return_id=mreturn.id), redact_endpoint=redact
    )


def return_compare(return_id: int):
    mreturn = load_return(return_id)
    return compare_page(mreturn, back=url_for("csu.return_review", return_id=mreturn.id))


def return_redact(return_id: int, number: int):
    """Remove a passage of a submitted revision's text, from the return and every revision, for good."""
    mreturn = load_return(return_id, check=MonitoringReturn.can_redact)
    revision = next((r for r in mreturn.revisions if r.number == number), None)
    if revision is None:
        abort(404)
    answers = redaction.redactable_answers(revision)
    form = RedactionForm(formdata=request.form if request.method == "POST" else None)
    form.field.choices = [(column, label) for column, label, _ in answers]
    if request.method == "POST" and form.validate():
        try:
            result = redaction.redact_passage(
                mreturn, revision, form.field.data, form.passage.data, reason=form.reason.data, by=current_user
            )
        except redaction.RedactionError as error:
            getattr(form, error.field).errors.append(str(error))
        else:
            db.session.commit()
            forget_overwritten_pages(db.engine)
            places = "1 place" if result.places == 1 else f"{result.places} places"
            flash(f"Removed the passage from {places} in the Q{mreturn.quarter} return for {mreturn.project.name}.")
            return redirect(url_for("csu.return_review", return_id=mreturn.id))
    status = 422 if request.method == "POST" else 200
    return (
        render_template(
            "csu/redact.html",
            mreturn=mreturn,
            project=mreturn.project,
            quarter=mreturn.project.year.quarter(mreturn.quarter),
            revision=revision,
            answers=answers,
            form=form,
        ),
        status,
    )
