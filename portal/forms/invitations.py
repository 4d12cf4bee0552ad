"""Inviting a person (administrator) and accepting an invitation (the person invited)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovPasswordInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from ..models.user import PARTNER, ROLE_LABELS, ROLES
from .returns import no_control_characters, strip

# One @, something either side, a dot in the domain, no spaces: typing mistakes caught, nothing more.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.org"
NO_ORGANISATION = "No organisation (staff)"
STRONG_HINT = "12 characters or more. A few unrelated words make a strong password that is easy to remember."


def email_format(form, field) -> None:
    if field.data and not EMAIL.match(field.data):
        raise ValidationError(EMAIL_FORMAT)


def email_field(label: str, required: str) -> EmailField:
    return EmailField(
        label,
        widget=GovTextInput(),
        filters=[strip],
        validators=[
            InputRequired(message=required),
            Length(max=320, message="Email address must be 320 characters or fewer"),
            email_format,
        ],
    )


class InvitationForm(FlaskForm):
    email = email_field("Email address", "Enter the email address of the person to invite")
    roles = SelectMultipleField(
        "Roles",
        description="Select all that apply.",
        choices=[SelectChoice(role, ROLE_LABELS[role]) for role in ROLES],
        widget=GovCheckboxesInput(),
        validators=[DataRequired(message="Select at least one role")],
    )
    organisation = SelectField(
        "Organisation",
        description="For a partner only: the organisation whose projects they report on.",
        choices=[SelectChoice("", NO_ORGANISATION)],
        widget=GovSelect(),
    )
    submit = SubmitField("Send invitation", widget=GovSubmitInput())

    def set_organisations(self, organisations) -> None:
        self.organisation.choices = [SelectChoice("", NO_ORGANISATION)] + [
            SelectChoice(str(org.id), org.name) for org in organisations
        ]

    def validate_organisation(self, field) -> None:
        roles = self.roles.data or []
        if PARTNER in roles and not field.data:
            raise ValidationError("Select the partner's organisation")
        if roles and PARTNER not in roles and field.data:
            raise ValidationError("Only partners belong to an organisation: select no organisation")


class InvitationAcceptForm(FlaskForm):
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        filters=[strip],
        validators=[
            InputRequired(message="Enter your full name"),
            Length(max=200, message="Full name must be 200 characters or fewer"),
            no_control_characters,
        ],
    )
    password = PasswordField(
        "Create a password",
        description=STRONG_HINT,
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter a password")],
    )
    submit = SubmitField("Create account", widget=GovSubmitInput())
