"""The set-up workbook: the whole year's set-up downloaded as Excel, and uploaded again once changed."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from ..auth.loaders import load_year
from ..extensions import db
from ..forms.setup import MAX_WORKBOOK_BYTES, WorkbookForm
from ..services import workbook as service
from ..services.exports import XLSX_TYPE
from .pages import ensure_editable, viewer


def workbook_download(year_label: str):
    year = load_year(year_label)
    response = Response(service.year_workbook(year), content_type=XLSX_TYPE)
    response.headers.set("Content-Disposition", "attachment", filename=f"set-up-{year.label}.xlsx")
    response.headers["Cache-Control"] = "no-store"
    return response


def _upload_page(form: WorkbookForm, year, status: int = 200, errors: list[str] | None = None):
    return render_template("setup/workbook_upload.html", form=form, year=year, errors=errors or []), status


def workbook_upload(year_label: str):
    """Check the whole workbook; write it only when nothing in it is wrong, and say what changed."""
    year = load_year(year_label)
    ensure_editable(year)
    form = WorkbookForm()
    if request.method == "GET":
        return _upload_page(form, year)
    if not form.validate():
        return _upload_page(form, year, 422)
    content = form.workbook.data.read(MAX_WORKBOOK_BYTES + 1)
    if len(content) > MAX_WORKBOOK_BYTES:
        form.workbook.errors = ["The set-up workbook must be smaller than 2 MB"]
        return _upload_page(form, year, 422)
    try:
        summary = service.upload(year, content, by=viewer())
    except service.WorkbookError as error:
        db.session.rollback()
        form.workbook.errors = [f"The workbook has {len(error.errors)} problem(s): nothing was changed"]
        return _upload_page(form, year, 422, error.errors)
    db.session.commit()
    flash(_changed(summary) if summary.changed else "The workbook matches the set-up: nothing was changed.")
    return redirect(url_for("setup.year_view", year_label=year.label))


KINDS = {
    "financial_year": "year",
    "funding_stream": "funding streams",
    "priority": "priorities",
    "project": "projects",
    "output_measure": "measures",
    "award_variation": "award variations",
}


def _changed(summary) -> str:
    parts = [f"{count} {KINDS.get(kind, kind)} added" for kind, count in summary.created.items()]
    parts += [f"{count} {KINDS.get(kind, kind)} changed" for kind, count in summary.updated.items()]
    return "The workbook has been uploaded: " + ", ".join(parts) + "."
