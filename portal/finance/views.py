"""Finance's pages: the PCC grant ledger — allocation, payments, variations, schedule and year end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from ..auth.loaders import load_instalment, load_payment, load_project, load_year, pick_year
from ..extensions import db
from ..forms.finance import (
    CloseYearForm,
    InstalmentForm,
    PaymentForm,
    ReopenYearForm,
    ReversalForm,
    VariationForm,
)
from ..htmx import page_or_fragment
from ..models import FinancialYear, Payment, PaymentInstalment, Project
from ..money import format_pence
from ..pagination import PageOf, govuk_pagination, page_number
from ..services import ledger as ledger_service
from ..services.figures import StreamFigures, stream_figures
from ..services.funding import PER_PAGE, funding_page, ledger_page, reconciliation_page

# The reconciliation lists the first of the year's returns not approved, and says how many more there are.
OPEN_RETURNS_SHOWN = PER_PAGE


def home(year_label: str | None):
    years, year = pick_year(year_label)
    if year is None:
        return render_template("finance/home.html", years=years, year=None)
    found = funding_page(year, _page_number())
    if found.funding.refreshed:
        db.session.commit()
    return page_or_fragment(
        "finance/home.html",
        "finance/_funding_table.html",
        years=years,
        year=year,
        funding=found.funding,
        rows=found.rows,
        paged=found.page,
        pagination=_pagination("finance.home", year, found.page, "Pages of projects", "#funding-table"),
    )


def _page_number() -> int:
    """The page the URL asks for; anything but a positive number is the first."""
    return page_number(request.args)


def _pagination(endpoint: str, year: FinancialYear, paged: PageOf, label: str, target: str) -> dict[str, Any] | None:
    def href(number: int) -> str:
        args: dict[str, Any] = {"page": number} if number > 1 else {}
        return url_for(endpoint, year_label=year.label, **args)

    return govuk_pagination(paged.pages, paged.number, href, label, htmx_target=target)


def _over_allocated(year: FinancialYear) -> list[StreamFigures]:
    """The year's streams whose awards add up to more than their total: every finance page says so. One query."""
    return [figures for figures in stream_figures(year) if figures.over_allocated]


def project_view(project_id: int):
    project = load_project(project_id)
    project_ledger = ledger_service.project_ledger(project)
    return render_template(
        "finance/project.html",
        project=project,
        ledger=project_ledger,
        schedule=project_ledger.schedule(),
        over_allocated=_stream_over_allocated(project),
    )


def _stream_over_allocated(project: Project) -> list[StreamFigures]:
    return [item for item in _over_allocated(project.year) if item.stream.id == project.funding_stream_id]


@dataclass(frozen=True)
class FormPage:
    """One of the project's ledger forms, on a page of its own: what the page is called and where it posts."""

    heading: str
    form: type[FlaskForm]
    posts_to: str


# One thing per page: the project page links to each of these, and a refused form comes back on its own page.
FORM_PAGES = {
    "payment": FormPage("Record a payment", PaymentForm, "finance.payment_record"),
    "variation": FormPage("Change the award", VariationForm, "finance.award_vary"),
    "instalment": FormPage("Plan an instalment", InstalmentForm, "finance.instalment_add"),
}


def _form_page(project: Project, kind: str, form: FlaskForm, status: int = 200):
    return render_template(
        "finance/project_form.html",
        project=project,
        ledger=ledger_service.project_ledger(project),
        over_allocated=_stream_over_allocated(project),
        kind=kind,
        page=FORM_PAGES[kind],
        form=form,
    ), status


def _new(project_id: int, kind: str):
    project = load_project(project_id, check=Project.can_keep_ledger)
    return _form_page(project, kind, FORM_PAGES[kind].form(formdata=None))


def payment_new(project_id: int):
    return _new(project_id, "payment")


def variation_new(project_id: int):
    return _new(project_id, "variation")


def instalment_new(project_id: int):
    return _new(project_id, "instalment")


def _refused(form, error: ledger_service.LedgerError) -> int:
    """Put the ledger's refusal beside its field (asking, when it may be confirmed); the status to answer with."""
    db.session.rollback()
    target = getattr(form, error.field, None) if error.field else None
    if target is not None:
        target.errors = [*target.errors, str(error)]
        if error.confirms is not None:
            target.asks = error.confirms
    else:
        form.form_errors.append(str(error))
    return 409 if isinstance(error, ledger_service.LedgerConflict) else 422


def payment_record(project_id: int):
    project = load_project(project_id, check=Project.can_keep_ledger)
    form = PaymentForm()
    if form.validate():
        assert form.paid_on.data is not None  # InputRequired: a valid form has its date
        try:
            payment = ledger_service.record_payment(
                project,
                amount_pence=form.amount.pence,
                paid_on=form.paid_on.data,
                reference=form.reference.data,
                note=form.note.data,
                reason=form.reason.data,
                by=current_user,
                reference_confirmed=form.confirm_reference.confirmed,
            )
        except ledger_service.LedgerError as error:
            return _form_page(project, "payment", form, _refused(form, error))
        db.session.commit()
        flash(f"Payment of {format_pence(payment.amount_pence)} recorded.")
        return redirect(url_for("finance.project_view", project_id=project.id))
    return _form_page(project, "payment", form, 422)


def payment_reverse(payment_id: int):
    payment = load_payment(payment_id, check=Payment.can_change)
    form = ReversalForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                ledger_service.reverse_payment(payment, reason=form.reason.data, by=current_user)
            except ledger_service.LedgerError as error:
                status = _refused(form, error)
            else:
                db.session.commit()
                flash(f"The payment of {format_pence(payment.amount_pence)} has been reversed.")
                return redirect(url_for("finance.project_view", project_id=payment.project_id))
        else:
            status = 422
    return render_template("finance/reverse.html", payment=payment, form=form), status


def award_vary(project_id: int):
    project = load_project(project_id, check=Project.can_keep_ledger)
    form = VariationForm()
    if form.validate():
        try:
            variation = ledger_service.vary_award(
                project,
                to_pence=form.amount.pence,
                reason=form.reason.data,
                by=current_user,
                over_allocation_confirmed=form.confirm_over_allocation.confirmed,
            )
        except ledger_service.LedgerError as error:
            return _form_page(project, "variation", form, _refused(form, error))
        db.session.commit()
        changed = f"from {format_pence(variation.from_pence)} to {format_pence(variation.to_pence)}"
        flash(f"The award has been changed {changed}.")
        return redirect(url_for("finance.project_view", project_id=project.id))
    return _form_page(project, "variation", form, 422)


def instalment_add(project_id: int):
    project = load_project(project_id, check=Project.can_keep_ledger)
    form = InstalmentForm()
    if form.validate():
        try:
            instalment = ledger_service.add_instalment(
                project,
                amount_pence=form.amount.pence,
                due_on=form.due_on.data,
                after_quarter=form.quarter,
                note=form.note.data,
                by=current_user,
            )
        except ledger_service.LedgerError as error:
            return _form_page(project, "instalment", form, _refused(form, error))
        db.session.commit()
        flash(
            f"Instalment {instalment.number} of {format_pence(instalment.amount_pence)} has been added to the schedule."
        )
        return redirect(url_for("finance.project_view", project_id=project.id))
    return _form_page(project, "instalment", form, 422)


def instalment_remove(instalment_id: int):
    instalment = load_instalment(instalment_id, check=PaymentInstalment.can_change)
    project_id = instalment.project_id
    removed = f"Instalment {instalment.number} of {format_pence(instalment.amount_pence)}"
    try:
        ledger_service.remove_instalment(instalment, by=current_user)
    except ledger_service.LedgerError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("finance.project_view", project_id=project_id)), 303
    db.session.commit()
    flash(f"{removed} has been removed from the schedule.")
    return redirect(url_for("finance.project_view", project_id=project_id))


def ledger(year_label: str):
    year = load_year(year_label)
    found = ledger_page(year, _page_number())
    return page_or_fragment(
        "finance/ledger.html",
        "finance/_ledger_tables.html",
        year=year,
        ledgers=found.ledgers,
        totals=found.totals,
        paged=found.page,
        pagination=_pagination("finance.ledger", year, found.page, "Pages of project ledgers", "#ledger-tables"),
        over_allocated=_over_allocated(year),
    )


def reconciliation(year_label: str):
    return _reconciliation_page(load_year(year_label))


def _reconciliation_page(year, status: int = 200, close_form=None, reopen_form=None):
    found = reconciliation_page(year, _page_number())
    if found.refreshed:
        db.session.commit()
    return page_or_fragment(
        "finance/reconciliation.html",
        "finance/_reconciliation_table.html",
        year=year,
        rows=found.rows,
        totals=found.totals,
        paged=found.page,
        pagination=_pagination(
            "finance.reconciliation", year, found.page, "Pages of the reconciliation", "#reconciliation-table"
        ),
        over_allocated=_over_allocated(year),
        year_end=None if year.is_closed else ledger_service.year_end_check(year, limit=OPEN_RETURNS_SHOWN),
        close_form=close_form or CloseYearForm(formdata=None),
        reopen_form=reopen_form or ReopenYearForm(formdata=None),
        has_errors=bool((close_form and close_form.errors) or (reopen_form and reopen_form.errors)),
    ), status


def year_close(year_label: str):
    year = load_year(year_label)
    if not year.can_close(current_user):
        abort(403)
    form = CloseYearForm()
    if not form.validate():
        return _reconciliation_page(year, 422, close_form=form)
    try:
        ledger_service.close_year(year, by=current_user, reason=form.reason.data)
    except ledger_service.LedgerError as error:
        return _reconciliation_page(year, _refused(form, error), close_form=form)
    db.session.commit()
    flash(f"The {year.label} financial year is closed.")
    return redirect(url_for("finance.reconciliation", year_label=year.label))


def year_reopen(year_label: str):
    year = load_year(year_label)
    if not year.can_reopen(current_user):
        abort(403)
    form = ReopenYearForm()
    if not form.validate():
        return _reconciliation_page(year, 422, reopen_form=form)
    try:
        ledger_service.reopen_year(year, reason=form.reason.data, by=current_user)
    except ledger_service.LedgerError as error:
        return _reconciliation_page(year, _refused(form, error), reopen_form=form)
    db.session.commit()
    flash(f"The {year.label} financial year has been reopened.")
    return redirect(url_for("finance.reconciliation", year_label=year.label))
