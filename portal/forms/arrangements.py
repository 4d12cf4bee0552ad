"""The CSU's form for a quarter's return: extend its due date, mark it not required, or restore the usual date."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput
from wtforms import RadioField, SelectChoice, SubmitField
from wtforms.validators import ValidationError

from ..calendar import day_text
from ..models.vocabulary import ARRANGEMENT_CHOICES, EXTENDED, NOT_REQUIRED, QUARTERS, USUAL
from .finance import GovDateField
from .returns import text_area


class ReturnArrangementForm(FlaskForm):
    """What the form cannot know by itself the view sets: each quarter's usual due date, the quarters
    already reported (they cannot be waived) and those with an arrangement (only they can be restored)."""

    quarter = RadioField(
        "Which return?",
        choices=[SelectChoice(q, f"Q{q}") for q in QUARTERS],
        coerce=int,
        widget=GovRadioInput(),
        validate_choice=False,  # checked below, with a message a person can act on
    )
    arrangement = RadioField(
        "What do you want to change?",
        choices=[SelectChoice(value, label) for value, label in ARRANGEMENT_CHOICES.items()],
        widget=GovRadioInput(),
        validate_choice=False,
    )
    due_on = GovDateField(
        "New due date", example="14 2 2027", description="Only to extend the due date. For example, 14 2 2027"
    )
    reason = text_area(
        "Reason for the change",
        1000,
        required="Enter the reason for the change",
        too_long="The reason must be 1,000 characters or fewer",
    )
    save = SubmitField("Save due date", widget=GovSubmitInput())

    def __init__(
        self,
        *args,
        usual_due: dict[int, date] | None = None,
        reported: set[int] | None = None,
        arranged: set[int] | None = None,
        **kwargs,
    ):
        kwargs.setdefault("prefix", "arrangement")  # the project page's rating form has a quarter too
        super().__init__(*args, **kwargs)
        self.usual_due = usual_due or {}
        self.reported = reported or set()
        self.arranged = arranged or set()

    def validate_quarter(self, field) -> None:
        if field.data not in QUARTERS:
            raise ValidationError("Select a quarter")

    def validate_arrangement(self, field) -> None:
        if field.data not in ARRANGEMENT_CHOICES:
            raise ValidationError("Select what you want to change")
        quarter = self.quarter.data
        if field.data == NOT_REQUIRED and quarter in self.reported:
            raise ValidationError(f"The Q{quarter} return has been submitted, so it cannot be marked not required")
        if field.data == USUAL and quarter in QUARTERS and quarter not in self.arranged:
            raise ValidationError(f"Q{quarter} already has the usual due date")

    def validate_due_on(self, field) -> None:
        if self.arrangement.data != EXTENDED or field.errors:
            return
        if field.data is None:
            raise ValidationError("Enter the new due date")
        usual = self.usual_due.get(self.quarter.data)
        if usual is not None and field.data <= usual:
            raise ValidationError(f"The new due date must be after the usual due date, {day_text(usual)}")
