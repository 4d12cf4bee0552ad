"""Forms on "Your account": the person's name, signing out everywhere else, and which mail they get."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import RadioField, SelectChoice, StringField, SubmitField
from wtforms.validators import DataRequired, Length, ValidationError

from ..models.vocabulary import DELIVERIES, DELIVERY_LABELS, MAIL_KIND_DESCRIPTIONS, MAIL_KIND_LABELS, MAIL_KINDS
from .returns import no_control_characters, strip


class NameChangeForm(FlaskForm):
    name = StringField(
        "Your name",
        description="As colleagues in the partnership know you. It is shown beside what you save and submit.",
        widget=GovTextInput(),
        filters=[strip],
        validators=[
            DataRequired(message="Enter your name"),
            Length(max=200, message="Your name must be 200 characters or fewer"),
            no_control_characters,
        ],
    )
    save = SubmitField("Save name", widget=GovSubmitInput())


class SignOutElsewhereForm(FlaskForm):
    sign_out = SubmitField("Sign out everywhere else", widget=GovSubmitInput())


class MailPreferencesForm(FlaskForm):
    save = SubmitField("Save your choices", widget=GovSubmitInput())
    posted: Mapping[str, str] = {}

    def requested(self) -> dict[str, str]:
        """Every kind of mail the form posted a choice for, offered or not: the service decides what may change."""
        return {kind: str(self.posted[kind]) for kind in MAIL_KINDS if kind in self.posted}


def mail_preferences_form(
    kinds: Sequence[str], current: Mapping[str, str], *, formdata: Mapping[str, str] | None = None
) -> MailPreferencesForm:
    """A radio per optional kind of mail this person receives: each message, a daily summary, or none.
    Without `formdata` it shows the current choices; with it (a POST's form), what was posted."""

    class PreferencesForm(MailPreferencesForm):
        pass

    for kind in kinds:
        label = MAIL_KIND_LABELS[kind]
        setattr(
            PreferencesForm,
            kind,
            RadioField(
                label,
                description=MAIL_KIND_DESCRIPTIONS[kind],
                choices=[SelectChoice(delivery, DELIVERY_LABELS[delivery]) for delivery in DELIVERIES],
                default=current.get(kind),
                widget=GovRadioInput(),
                validate_choice=False,
                validators=[_one_of_deliveries(label)],
            ),
        )
    form = PreferencesForm(formdata=formdata)
    form.posted = formdata or {}
    return form


def _one_of_deliveries(label: str):
    def check(form, field) -> None:
        if field.data not in DELIVERIES:
            raise ValidationError(f"Select how you want to get “{label}”: each message, a daily summary or none")

    return check
