from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from ..models.vocabulary import MFA_CODE_FORMAT, MFA_CODE_MISSING, MFA_RECOVERY_MISSING


class SignInForm(FlaskForm):
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address"), Length(max=320)],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password"), Length(max=1024)],
    )
    next = HiddenField()
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your current password"), Length(max=1024)],
    )
    new_password = PasswordField(
        "New password",
        description="12 characters or more. A few unrelated words make a strong password that is easy to remember.",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter a new password")],
    )
    submit = SubmitField("Change password", widget=GovSubmitInput())


class CodeForm(FlaskForm):
    """The 6-digit code from an authenticator app (spaces allowed; paste works)."""

    code = StringField(
        "Enter the 6-digit code",
        description="It is shown in your authenticator app and changes every 30 seconds.",
        widget=GovTextInput(),
        validators=[InputRequired(message=MFA_CODE_MISSING), Length(max=20)],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())

    def validate_code(self, field) -> None:
        digits = "".join((field.data or "").split())
        if not (len(digits) == 6 and digits.isdigit()):
            raise ValidationError(MFA_CODE_FORMAT)


class RecoveryCodeForm(FlaskForm):
    code = StringField(
        "Enter a recovery code",
        description="One of the ten codes you saved when you set up your authenticator app, like ABCD-EFGH-JKLM-NPQR.",
        widget=GovTextInput(),
        validators=[InputRequired(message=MFA_RECOVERY_MISSING), Length(max=40)],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class TurnOffSecondFactorForm(FlaskForm):
    password = PasswordField(
        "Your password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password"), Length(max=1024)],
    )
    submit = SubmitField("Turn off", widget=GovSubmitInput())


class IdentityConfirmForm(FlaskForm):
    """ "Confirm it's you" before an administrator's change: the password, and the code when they have one."""

    password = PasswordField(
        "Your password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password"), Length(max=1024)],
    )
    code = StringField(
        "Code from your authenticator app",
        description="The 6-digit code it shows now, or one of your recovery codes.",
        widget=GovTextInput(),
        validators=[Length(max=40)],
    )
    next = HiddenField()
    submit = SubmitField("Continue", widget=GovSubmitInput())
