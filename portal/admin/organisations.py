"""The administrator's organisation pages: add, view, change, retire and reinstate."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.loaders import load_organisation
from ..extensions import db
from ..forms.admin import ConfirmForm, OrganisationForm
from ..models import Organisation
from ..services import organisations as service


def _details(form: OrganisationForm) -> service.OrganisationDetails:
    return service.OrganisationDetails(
        name=form.name.data,
        short_name=form.short_name.data,
        charity_number=form.charity_number.data,
        company_number=form.company_number.data,
        contact_email=form.contact_email.data,
        contact_phone=form.contact_phone.data,
    )


def _form_page(form: OrganisationForm, organisation: Organisation | None, status: int = 200):
    return render_template("admin/organisation_form.html", form=form, organisation=organisation), status


def _save(form: OrganisationForm, existing: Organisation | None):
    """Add (`existing` None) or change an organisation from a posted form: 422 and nothing saved when wrong."""
    if not form.validate():
        return _form_page(form, existing, 422)
    try:
        if existing is None:
            organisation = service.add_organisation(_details(form), by=current_user)
            done = f"{organisation.name} has been added."
        else:
            organisation = existing
            changed = service.edit_organisation(organisation, _details(form), by=current_user)
            done = f"{organisation.name} has been changed." if changed else "Nothing was changed."
    except service.OrganisationError as error:
        db.session.rollback()
        field = getattr(form, error.field, None) if error.field else None
        (field.errors if field is not None else form.form_errors).append(str(error))
        return _form_page(form, existing, 422)
    db.session.commit()
    flash(done)
    return redirect(url_for("admin.organisation_view", organisation_id=organisation.id))


def organisation_add():
    form = OrganisationForm()
    if request.method == "POST":
        return _save(form, None)
    return _form_page(form, None)


def organisation_view(organisation_id: int):
    organisation = load_organisation(organisation_id)
    return render_template(
        "admin/organisation.html",
        organisation=organisation,
        people=service.people_of(organisation),
        reinstate_form=ConfirmForm(formdata=None),
    )


def organisation_edit(organisation_id: int):
    organisation = load_organisation(organisation_id, check=Organisation.can_edit)
    form = OrganisationForm(obj=organisation)
    if request.method == "POST":
        return _save(form, organisation)
    return _form_page(form, organisation)


def organisation_retire(organisation_id: int):
    """Check before retiring: who will no longer be able to sign in. Then retire."""
    organisation = load_organisation(organisation_id, check=Organisation.can_edit)
    form = ConfirmForm()
    if request.method == "POST" and organisation.can_retire(current_user) and form.validate():
        people = service.retire_organisation(organisation, by=current_user)
        db.session.commit()
        who = "1 person" if len(people) == 1 else f"{len(people)} people"
        flash(f"{organisation.name} has been retired. {who} from it can no longer sign in.")
        return redirect(url_for("admin.organisation_view", organisation_id=organisation.id))
    return render_template(
        "admin/organisation_retire.html",
        organisation=organisation,
        people=service.people_to_deactivate(organisation, by=current_user),
        form=form,
    ), 200 if organisation.can_retire(current_user) else 409


def organisation_reinstate(organisation_id: int):
    organisation = load_organisation(organisation_id, check=Organisation.can_edit)
    form = ConfirmForm()
    target = redirect(url_for("admin.organisation_view", organisation_id=organisation.id), 303)
    if not form.validate() or not organisation.can_reinstate(current_user):
        flash(f"{organisation.name} is not retired: nothing was changed.")
        return target
    service.reinstate_organisation(organisation, by=current_user)
    db.session.commit()
    flash(f"{organisation.name} has been reinstated. Its people stay deactivated until you reactivate them.")
    return target
