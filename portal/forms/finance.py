"""Finance's forms: payments, reversals, award variations, instalments, closing and reopening a year."""

from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovDateInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..calendar import uk_today
from ..models.vocabulary import QUARTERS
from ..money import MAX_PENCE
from .returns import PoundsInput, no_control_characters, strip, text_area


class GovDateField(DateField):
    """Day, month and year boxes; a clear message for an impossible date; all blank means no date."""

    def __init__(self, label, *, example: str, **kwargs):
        super().__init__(label, format="%d %m %Y", widget=GovDateInput(), **kwargs)
        self.example = example

    def process_formdata(self, valuelist):
        if not valuelist or not any(part.strip() for part in valuelist):
            self.data = None
            self.raw_data = valuelist if valuelist else None  # the widget redraws three boxes
            return
        if len(valuelist) != 3:
            self.data = None
            self.raw_data = None
            raise ValueError(f"{self.label.text} must be a real date, like {self.example}")
        parts = [part.strip() for part in valuelist]
        try:
            self.data = datetime.strptime(" ".join(parts), "%d %m %Y").date()
        except ValueError:
            self.data = None
            raise ValueError(f"{self.label.text} must be a real date, like {self.example}") from None


class ConfirmField(BooleanField):
    """A box ticked to go ahead with a change the ledger asked about. Shown only once asked: `asks` is the
    value the ledger wants back (see LedgerError.confirms), and the box carries it, never a bare "yes"."""

    def __init__(self, label: str, **kwargs):
        super().__init__(label, widget=GovCheckboxInput(), **kwargs)
        self.asks: str | None = None

    @property
    def confirmed(self) -> str | None:
        """What the ticked box confirms; None when it was not ticked."""
        return self.raw_data[0] if self.data and self.raw_data else None

    @property
    def shown(self) -> bool:
        return bool(self.asks or self.confirmed)

    @property
    def item(self) -> dict:
        """The checkbox as the GOV.UK macro takes it: a new question is never ticked in advance."""
        return {"value": self.asks or self.confirmed, "checked": self.asks is None and self.confirmed is not None}


class PaymentForm(FlaskForm):
    amount = StringField(
        "Amount",
        description="In pounds and pence, for example 6666.67",
        widget=GovTextInput(),
        filters=[strip],
        validators=[DataRequired(message="Enter the amount paid")],
    )
    # InputRequired, not DataRequired: DataRequired would clear the "must be a real date" message.
    paid_on = GovDateField(
        "Date paid", example="27 4 2026", validators=[InputRequired(message="Enter the date the payment was made")]
    )
    reference = StringField(
        "Reference",
        description="For example the finance system's payment number",
        widget=GovTextInput(),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=100, message="Reference must be 100 characters or fewer"),
            no_control_characters,
        ],
    )
    confirm_reference = ConfirmField("This payment is intended: record it with the same reference")
    note = text_area("Note", 1000)
    reason = text_area(
        "Reason for paying",
        1000,
        hint="Needed when the total paid would be more than the award, or when the instalment it pays is held "
        "until a return is approved.",
    )
    save = SubmitField("Record payment", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.amount.validators = [*self.amount.validators, PoundsInput(MAX_PENCE)]

    def validate_paid_on(self, field) -> None:
        # Also checked by the ledger; here too, so that it is reported with the form's other errors.
        if field.data is not None and field.data > uk_today():
            raise ValidationError("Date paid must be today or in the past")


class ReversalForm(FlaskForm):
    reason = text_area("Why is this payment being reversed?", 1000, required="Enter why the payment is being reversed")
    save = SubmitField("Reverse payment", widget=GovSubmitInput())


class VariationForm(FlaskForm):
    amount = StringField(
        "New award",
        description="In pounds and pence, for example 12000.00",
        widget=GovTextInput(),
        filters=[strip],
        validators=[DataRequired(message="Enter the new award")],
    )
    reason = text_area("Reason for the change", 1000, required="Enter the reason for the change")
    confirm_over_allocation = ConfirmField("Change the award anyway: I confirm the over-allocation")
    save = SubmitField("Change award", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.amount.validators = [*self.amount.validators, PoundsInput(MAX_PENCE)]


class InstalmentForm(FlaskForm):
    amount = StringField(
        "Amount",
        description="In pounds and pence",
        widget=GovTextInput(),
        filters=[strip],
        validators=[DataRequired(message="Enter the instalment's amount")],
    )
    due_on = GovDateField("Due date (optional)", example="1 4 2026", validators=[Optional()])
    after_quarter = SelectField(
        "Pay only after this return is approved",
        choices=[SelectChoice("", "No condition")] + [SelectChoice(str(q), f"Q{q} return") for q in QUARTERS],
        widget=GovSelect(),
    )
    note = text_area("Note", 500)
    save = SubmitField("Add instalment", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.amount.validators = [*self.amount.validators, PoundsInput(MAX_PENCE)]

    @property
    def quarter(self) -> int | None:
        return int(self.after_quarter.data) if self.after_quarter.data in {"1", "2", "3", "4"} else None


class CloseYearForm(FlaskForm):
    confirm = BooleanField(
        "I understand that the year's returns, payments and awards become read-only",
        widget=GovCheckboxInput(),
        validators=[DataRequired(message="Confirm that you understand what closing the year does")],
    )
    # Asked for (by the ledger) only when returns are outstanding or the Q4 returns are not yet due.
    reason = text_area("Why is the year being closed now?", 1000)
    save = SubmitField("Close the year", widget=GovSubmitInput())


class ReopenYearForm(FlaskForm):
    reason = text_area("Why is the year being reopened?", 1000, required="Enter why the year is being reopened")
    save = SubmitField("Reopen the year", widget=GovSubmitInput())
