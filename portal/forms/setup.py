"""The set-up forms: a year, its funding streams and priorities, projects and their output measures, rolling
over, and the set-up workbook. They check what was typed; the set-up service checks it against the portal."""

from __future__ import annotations

import re
from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..calendar import parse_year_label
from ..models.vocabulary import COMBINE_HINTS, COMBINE_LABELS, COMBINES, DECIMAL, PRECISION_LABELS, PRECISIONS
from ..money import MAX_PENCE
from ..quantities import QuantityError, parse_quantity
from .returns import PoundsInput, no_control_characters, strip, text_area

MAX_WORKBOOK_BYTES = 2 * 1024 * 1024
ACTION_REFERENCE = r"[0-9A-Za-z][0-9A-Za-z.\-]{0,19}"


def _text(label: str, limit: int, *, required: str | None = None, hint: str = "") -> StringField:
    validators = [DataRequired(message=required)] if required else [Optional()]
    validators += [Length(max=limit, message=f"{label} must be {limit:,} characters or fewer"), no_control_characters]
    return StringField(label, description=hint, widget=GovTextInput(), filters=[strip], validators=validators)


def _whole(field, low: int, high: int, message: str) -> int | None:
    """A whole number typed in a text box, or a ValidationError with the message."""
    text = (field.data or "").strip()
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValidationError(message)
    return int(text)


DUE_DAYS_MESSAGE = "Days after the quarter ends must be a whole number from 0 to 120, like 14"


class YearForm(FlaskForm):
    """Creating a year (its label and due days) or changing one (its due days only: `label` is removed)."""

    label = _text(
        "Financial year",
        7,
        required="Enter the financial year, like 2024-25",
        hint="April to March, written like 2024-25",
    )
    return_due_days = _text(
        "Days after the end of each quarter that its return is due",
        3,
        required="Enter how many days after each quarter ends its return is due",
        hint="A whole number from 0 to 120, for example 14",
    )
    save = SubmitField("Save", widget=GovSubmitInput())

    @property
    def start_year(self) -> int:
        return parse_year_label(self.label.data or "") or 0

    @property
    def due_days(self) -> int:
        return int(self.return_due_days.data or 0)

    def validate_label(self, field) -> None:
        start = parse_year_label(field.data or "")
        if start is None or not 2000 <= start <= 2199:
            raise ValidationError("Enter the financial year like 2024-25: the year it starts, a dash, the next year")

    def validate_return_due_days(self, field) -> None:
        _whole(field, 0, 120, DUE_DAYS_MESSAGE)


class StreamForm(FlaskForm):
    name = _text("Name", 200, required="Enter the funding stream's name", hint="For example PCC Crime Reduction Grant")
    funder = _text(
        "Funder", 200, required="Enter who gives the money", hint="For example Kent Police and Crime Commissioner"
    )
    amount = StringField(
        "Amount",
        description="The stream's total for the year, in pounds and pence, for example 34218.00",
        widget=GovTextInput(),
        filters=[strip],
        validators=[DataRequired(message="Enter the stream's amount")],
    )
    save = SubmitField("Save", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.amount.validators = [*self.amount.validators, PoundsInput(MAX_PENCE)]


class PriorityForm(FlaskForm):
    name = _text("Name", 300, required="Enter the priority's name", hint="For example Domestic Abuse")
    rank = _text("Rank", 10, hint="1 is the highest priority. Leave blank to put it last.")
    save = SubmitField("Save", widget=GovSubmitInput())

    def validate_rank(self, field) -> None:
        _whole(field, 1, 999, "Rank must be a whole number, like 1 for the highest priority")

    @property
    def rank_number(self) -> int | None:
        return int(self.rank.data) if (self.rank.data or "").isdigit() else None


def _values(field: SelectField) -> set[str]:
    """The values a select offers (the blank prompt is not one of them)."""
    return {choice.value for choice in field.choices or [] if choice.value}


class ProjectForm(FlaskForm):
    """A project. `organisation` is offered only when it is created; choices are set by the view."""

    organisation = SelectField("Organisation", widget=GovSelect(), validate_choice=False)
    name = _text("Project name", 300, required="Enter the project's name")
    funding_stream = SelectField("Funding stream", widget=GovSelect(), validate_choice=False)
    amount = StringField(
        "Award",
        description="In pounds and pence, for example 10000.00",
        widget=GovTextInput(),
        filters=[strip],
        validators=[DataRequired(message="Enter the award")],
    )
    award_reason = text_area(
        "Reason for changing the award", 1000, hint="Needed when the award changes: the ledger keeps it."
    )
    priority = SelectField("Priority", widget=GovSelect(), validate_choice=False)
    actions = _text(
        "Action-plan actions",
        200,
        hint="The references of the actions it delivers, separated by commas, for example 3.2, 3.5",
    )
    description = text_area("Description", 2000)
    q1_profile = StringField("Q1", widget=GovTextInput(), filters=[strip])
    q2_profile = StringField("Q2", widget=GovTextInput(), filters=[strip])
    q3_profile = StringField("Q3", widget=GovTextInput(), filters=[strip])
    q4_profile = StringField("Q4", widget=GovTextInput(), filters=[strip])
    confirm_over_allocation = BooleanField(
        "Award it anyway: I confirm the funding stream is over-allocated", widget=GovCheckboxInput()
    )
    over_allocation_reason = text_area("Why is the stream being over-allocated?", 1000)
    save = SubmitField("Save", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.amount.validators = [*self.amount.validators, PoundsInput(MAX_PENCE)]
        for quarter in self.profile_fields:
            quarter.validators = [PoundsInput(MAX_PENCE)]
        self.confirms: str | None = None  # the figure the over-allocation box confirms, once asked

    def validate_organisation(self, field) -> None:
        if field.data not in _values(field):
            raise ValidationError("Select the organisation")

    def validate_funding_stream(self, field) -> None:
        if field.data not in _values(field):
            raise ValidationError("Select the funding stream")

    def validate_priority(self, field) -> None:
        if field.data and field.data not in _values(field):
            raise ValidationError("Select a priority, or no priority")

    def validate_actions(self, field) -> None:
        if any(not re.fullmatch(ACTION_REFERENCE, part) for part in self.action_list):
            raise ValidationError("Enter action-plan references separated by commas, like 3.2, 3.5")

    @property
    def profile_fields(self) -> list:
        return [self.q1_profile, self.q2_profile, self.q3_profile, self.q4_profile]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        typed = [field for field in self.profile_fields if field.data]
        if typed and len(typed) < 4:
            for field in self.profile_fields:
                if not field.data:
                    field.errors = [*field.errors, f"Enter the planned spend in {field.label.text}, or in no quarter"]
            return False
        return valid

    @property
    def spend_profile(self) -> list[int] | None:
        """The planned spend per quarter in pence, or None when no quarter was planned."""
        pence = [getattr(field, "pence", None) for field in self.profile_fields]
        return None if any(value is None for value in pence) else [int(value or 0) for value in pence]

    @property
    def action_list(self) -> list[str]:
        return [part.strip() for part in (self.actions.data or "").split(",") if part.strip()]

    @property
    def confirmed(self) -> str | None:
        """What the ticked over-allocation box confirms; None when it was not ticked."""
        field = self.confirm_over_allocation
        return field.raw_data[0] if field.data and field.raw_data else None

    @property
    def asks_confirmation(self) -> bool:
        return bool(self.confirms or self.confirmed)


class QuantityText:
    """A target typed as a quantity, checked against the whole-or-decimal choice of the same form."""

    def __call__(self, form, field) -> None:
        field.parsed = None
        if not field.data:
            return
        try:
            field.parsed = parse_quantity(field.data, decimals=form.decimals.data == DECIMAL)
        except QuantityError as error:
            raise ValidationError(f"{field.label.text} {error}") from error


def _target(label: str) -> StringField:
    return StringField(label, widget=GovTextInput(), filters=[strip], validators=[QuantityText()])


class MeasureForm(FlaskForm):
    name = _text("Name", 200, required="Enter the measure's name", hint="For example Referrals")
    unit = _text("Unit", 50, required="Enter the unit", hint="What is counted, for example people, sessions or hours")
    definition = text_area("Definition", 2000, hint="What counts, so that every quarter is counted the same way")
    combine = RadioField(
        "How the quarters make the year's figure",
        choices=[SelectChoice(value, COMBINE_LABELS[value]) for value in COMBINES],
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select how the quarters make the year's figure")],
    )
    decimals = RadioField(
        "Figures",
        choices=[SelectChoice(value, PRECISION_LABELS[value]) for value in PRECISIONS],
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select whole numbers or up to 2 decimal places")],
    )
    counts_people = BooleanField("It counts people", widget=GovCheckboxInput())
    annual_target = _target("Annual target (optional)")
    q1_target = _target("Q1")
    q2_target = _target("Q2")
    q3_target = _target("Q3")
    q4_target = _target("Q4")
    save = SubmitField("Save", widget=GovSubmitInput())

    COMBINE_HINTS = COMBINE_HINTS

    @property
    def quarter_fields(self) -> list:
        return [self.q1_target, self.q2_target, self.q3_target, self.q4_target]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        typed = [field for field in self.quarter_fields if field.data]
        if typed and len(typed) < 4:
            for field in self.quarter_fields:
                if not field.data:
                    field.errors = [*field.errors, f"Enter the {field.label.text} target, or no quarterly targets"]
            return False
        return valid

    @property
    def quarterly_targets(self) -> list[Decimal | None]:
        return [getattr(field, "parsed", None) for field in self.quarter_fields]


class ConfirmForm(FlaskForm):
    """A page that checks before a change: its one button."""

    save = SubmitField("Confirm", widget=GovSubmitInput())


class WorkbookForm(FlaskForm):
    workbook = FileField(
        "Set-up workbook", description="The Excel workbook (.xlsx) downloaded from this page", widget=GovFileInput()
    )
    save = SubmitField("Upload and check", widget=GovSubmitInput())

    def validate_workbook(self, field) -> None:
        upload = field.data
        if upload is None or not getattr(upload, "filename", ""):
            raise ValidationError("Select the set-up workbook")
        if not upload.filename.lower().endswith(".xlsx"):
            raise ValidationError("The set-up workbook must be an Excel workbook (.xlsx)")
