"""The administrator's forms: organisations, people's roles, and confirmations of changes."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovSelect, GovSubmitInput, GovTextInput
from wtforms import HiddenField, SelectChoice, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..models.organisation import charity_number, company_number
from ..models.user import PARTNER, ROLE_LABELS, ROLES
from .returns import no_control_characters, strip

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ()-]+$")


def _registered(normalise: Callable[[str | None], str | None]):
    """A check with the model's own rule for a registered number (the model's message when it fails)."""

    def check(form, field) -> None:
        try:
            normalise(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    return check


def _email(form, field) -> None:
    if field.data and not EMAIL.match(field.data):
        raise ValidationError("Enter an email address in the correct format, like name@example.org")


def _phone(form, field) -> None:
    digits = sum(char.isdigit() for char in field.data or "")
    if field.data and (not PHONE.match(field.data) or not 7 <= digits <= 15):
        raise ValidationError("Enter a telephone number, like 01632 960 001 or +44 808 157 0192")


def _text(label: str, limit: int, *, required: str | None = None, hint: str = "", checks=()) -> StringField:
    validators = [DataRequired(message=required)] if required else [Optional()]
    validators += [Length(max=limit, message=f"{label} must be {limit} characters or fewer"), no_control_characters]
    return StringField(
        label if required else f"{label} (optional)",
        description=hint,
        widget=GovTextInput(),
        filters=[strip],
        validators=[*validators, *checks],
    )


class OrganisationForm(FlaskForm):
    name = _text("Name", 300, required="Enter the organisation's name")
    short_name = _text(
        "Short name",
        50,
        required="Enter a short name",
        hint="How the portal lists it, like DAVSS. No two organisations can have the same short name.",
    )
    charity_number = _text(
        "Charity number",
        20,
        hint="6 or 7 digits for a charity registered in England and Wales, or SC and 6 digits in Scotland. "
        "The grants published as 360Giving open data identify the organisation by it.",
        checks=[_registered(charity_number)],
    )
    company_number = _text(
        "Company number",
        20,
        hint="From Companies House: 8 characters, like 01234567 or SC123456.",
        checks=[_registered(company_number)],
    )
    contact_email = _text("Contact email address", 320, checks=[_email])
    contact_phone = _text("Contact telephone number", 40, checks=[_phone])
    save = SubmitField("Save organisation", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    """A button that confirms a change the page has described (the page sets the button's words)."""

    confirm = SubmitField("Confirm", widget=GovSubmitInput())


class UserRolesForm(FlaskForm):
    """Roles, and the organisation of a partner. `organisation`'s choices are set by the view."""

    roles = SelectMultipleField(
        "Roles",
        description="Select all that apply.",
        choices=[SelectChoice(role, ROLE_LABELS[role]) for role in ROLES],
        widget=GovCheckboxesInput(),
        validate_choice=False,
    )
    organisation = SelectField("Organisation (partners only)", widget=GovSelect(), choices=[], validate_choice=False)
    # Set by the check-your-answers page: the second post makes the change.
    confirmed = HiddenField()
    save = SubmitField("Continue", widget=GovSubmitInput())

    def offer_organisations(self, organisations: list[tuple[str, str]]) -> None:
        """No organisation, then each organisation (id, label) a partner may belong to."""
        self.organisation.choices = [SelectChoice("", "No organisation")] + [
            SelectChoice(value, label) for value, label in organisations
        ]

    def validate_roles(self, field) -> None:
        if not field.data:
            raise ValidationError("Select at least one role")
        if set(field.data) - set(ROLES):
            raise ValidationError("Select roles from the list")

    def validate_organisation(self, field) -> None:
        if field.data and field.data not in {choice.value for choice in field.choices}:
            raise ValidationError("Select an organisation from the list")
        partner = PARTNER in (self.roles.data or [])
        if partner and not field.data:
            raise ValidationError("Select the partner's organisation")
        if not partner and field.data:
            raise ValidationError("Only partners belong to an organisation: select No organisation, or Partner")
