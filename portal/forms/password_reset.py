"""Forgotten password: asking for a link, and choosing a new password with it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput
from wtforms import PasswordField, SubmitField
from wtforms.validators import InputRequired

from .invitations import STRONG_HINT, email_field


class PasswordResetRequestForm(FlaskForm):
    email = email_field("Email address", "Enter your email address")
    submit = SubmitField("Send the link", widget=GovSubmitInput())


class PasswordResetForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        description=STRONG_HINT,
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter a new password")],
    )
    submit = SubmitField("Set password", widget=GovSubmitInput())
