"""Forms on "Your account": the person's name, and signing out everywhere else."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

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
