"""Forms for the quarterly return and its review. Validation is server-side; the browser's is a convenience."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Protocol

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import HiddenField, RadioField, SelectChoice, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..models.vocabulary import (
    COMBINE_LATEST,
    NARRATIVE_LIMITS,
    NO_TARGET,
    NO_VALUE,
    PERSONAL_DATA_REASON_LABEL,
    PERSONAL_DATA_REASON_LIMIT,
    RAG_LABELS,
    RAG_MEANINGS,
    RAGS,
    REDACTION_REASON_LIMIT,
    SELECT_RAG,
)
from ..money import MoneyError, format_pence, pence_from_pounds
from ..quantities import QuantityError, format_quantity, parse_quantity, plain_quantity

# Tabs and line breaks are text; other control characters (a NUL above all) are not.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORMATTED_POUNDS = re.compile(r"^£?\s*([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?$")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def no_control_characters(form, field) -> None:
    if field.data and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError(f"{field.label.text} must not contain control characters such as NUL")


def text_area(
    label: str, limit: int, *, required: str | None = None, hint: str = "", too_long: str | None = None
) -> TextAreaField:
    """A GOV.UK textarea: stripped, within a limit, free of control characters; required with a message."""
    validators = [DataRequired(message=required)] if required else [Optional()]
    validators += [
        Length(max=limit, message=too_long or f"{label} must be {limit:,} characters or fewer"),
        no_control_characters,
    ]
    return TextAreaField(label, description=hint, widget=GovTextArea(), filters=[strip], validators=validators)


def plain_pounds(pence: int | None) -> str:
    return format_pence(pence, sign=False).replace(",", "") if pence is not None else ""


class QuantityInput:
    """Checks a count (or hours) and keeps the parsed value on the field."""

    def __init__(self, decimals: bool):
        self.decimals = decimals

    def __call__(self, form, field) -> None:
        field.parsed = None
        if not field.data:
            return
        try:
            field.parsed = parse_quantity(field.data, decimals=self.decimals)
        except QuantityError as error:
            raise ValidationError(f"{field.label.text} {error}") from error


class PoundsInput:
    """Checks pounds and pence; '£1,234.50' is read as 1234.50. Keeps the pence on the field."""

    def __init__(self, max_pence: int):
        self.max_pence = max_pence

    def __call__(self, form, field) -> None:
        field.pence = None
        if not field.data:
            return
        text = field.data.strip()
        if FORMATTED_POUNDS.match(text):
            text = text.replace("£", "").replace(",", "").strip()
        try:
            pence = pence_from_pounds(text)
        except MoneyError as error:
            raise ValidationError(f"{field.label.text} {error}") from error
        if pence > self.max_pence:
            raise ValidationError(f"{field.label.text} must be {format_pence(self.max_pence)} or less")
        field.pence = pence


class FieldMessage(Protocol):
    """An answer still needed, as the returns service reports it: the field's name and its message."""

    name: str
    message: str


EDITOR = re.compile(r"^[0-9a-f]{16,32}$")


class ReturnSectionForm(FlaskForm):
    version = HiddenField()
    # Identifies this open page, so its own autosave never counts as someone else's change.
    editor = HiddenField(default=lambda: secrets.token_hex(8))
    save_continue = SubmitField("Save and continue", widget=GovSubmitInput())
    save_later = SubmitField("Save and come back later", widget=GovSubmitInput())

    @property
    def version_number(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None

    @property
    def editor_token(self) -> str | None:
        return self.editor.data if self.editor.data and EDITOR.match(self.editor.data) else None

    @property
    def continuing(self) -> bool:
        return bool(self.save_continue.data)

    def require(self, unanswered: Sequence[FieldMessage]) -> bool:
        """On 'Save and continue': each answer the service says is still needed gets its message beside it."""
        for item in unanswered:
            self[item.name].errors = [*self[item.name].errors, item.message]
        return not unanswered


def outputs_form(measures, context, *, formdata=None, mreturn=None, version: int = 0):
    """One field per output measure asked for: its name as the label; unit, definition, this quarter's target
    and last quarter's figure as hint (`context`: each measure's OutputContext by id; None for a form that is read,
    never shown, like an autosave's). The form's `measures` are those measures, in order."""

    class OutputsForm(ReturnSectionForm):
        pass

    data = {"version": str(version)}
    for measure in measures:
        setattr(
            OutputsForm,
            f"m{measure.id}",
            StringField(
                measure.name,
                description=_output_hint(measure, context[measure.id]) if context is not None else "",
                widget=GovTextInput(),
                filters=[strip],
                validators=[QuantityInput(measure.allows_decimals)],
            ),
        )
        if mreturn is not None:
            data[f"m{measure.id}"] = plain_quantity(mreturn.value_of(measure.id))
    form = OutputsForm(formdata=formdata, data=data)
    form.measures = list(measures)
    return form


def _output_hint(measure, context) -> str:
    hint = [f"Unit: {measure.unit}."]
    if measure.definition:
        hint.append(measure.definition.rstrip(".") + ".")
    if context.target is None:
        hint.append(f"{NO_TARGET} this quarter.")
    elif context.target_from_annual and measure.combine == COMBINE_LATEST:
        hint.append(f"Target: {format_quantity(context.target)} (the annual target).")
    elif context.target_from_annual:
        hint.append(
            f"Target this quarter: {format_quantity(context.target)} "
            f"(a quarter of the annual {format_quantity(measure.annual_target)})."
        )
    else:
        hint.append(f"Target this quarter: {format_quantity(context.target)}.")
        if measure.annual_target is not None:
            hint.append(f"Annual target: {format_quantity(measure.annual_target)}.")
    if context.quarter > 1:
        last = format_quantity(context.last_quarter) if context.last_quarter is not None else NO_VALUE
        hint.append(f"Last quarter: {last}.")
    hint.append("Up to 2 decimal places." if measure.allows_decimals else "A whole number.")
    return " ".join(hint)


class SpendForm(ReturnSectionForm):
    spend = StringField(
        "Spend in the quarter",
        description="In pounds and pence, for example 2500.00",
        widget=GovTextInput(),
        filters=[strip],
    )
    spend_explanation = TextAreaField(
        "Explanation of spend",
        description="Needed when spend to date is over the award, or far from an even spread across the year.",
        widget=GovCharacterCount(),
        filters=[strip],
        validators=[Length(max=NARRATIVE_LIMITS["spend_explanation"]), no_control_characters],
    )

    def __init__(self, *args, max_pence: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.spend.validators = [PoundsInput(max_pence)]


def _narrative(label: str, name: str, hint: str) -> TextAreaField:
    limit = NARRATIVE_LIMITS[name]
    return TextAreaField(
        label,
        description=hint,
        widget=GovCharacterCount(),
        filters=[strip],
        validators=[
            Length(max=limit, message=f"{label} must be {limit:,} characters or fewer"),
            no_control_characters,
        ],
    )


class NarrativeForm(ReturnSectionForm):
    progress = _narrative(
        "Progress this quarter", "progress", "What the project did and achieved this quarter. Numbers only, no names."
    )
    case_study = _narrative(
        "Case study",
        "case_study",
        "An anonymised example of the difference the project made. "
        "Do not include names, addresses, dates of birth or anything else that could identify someone.",
    )
    challenges = _narrative("Challenges and risks", "challenges", "Anything that may stop the project delivering.")
    partner_rag = RadioField(
        "How is the project doing?",
        choices=[SelectChoice(rag, f"{RAG_LABELS[rag]} – {RAG_MEANINGS[rag]}") for rag in RAGS],
        widget=GovRadioInput(),
        validate_choice=False,  # checked below, with a message a person can act on
    )
    partner_rag_reason = _narrative("Reason for your rating", "partner_rag_reason", "")

    def validate_partner_rag(self, field) -> None:
        if field.data is not None and field.data not in RAG_LABELS:
            raise ValidationError(SELECT_RAG)


class SubmitReturnForm(FlaskForm):
    version = HiddenField()
    submission_key = HiddenField()
    # Needed only when answers look like personal data (the view says so): the partner's reason why they are not.
    personal_data_reason = text_area(
        PERSONAL_DATA_REASON_LABEL,
        PERSONAL_DATA_REASON_LIMIT,
        hint="For example, “Mrs Smith is our volunteer coordinator, named with her agreement”. "
        "If any of it is about a victim or client, change the answers instead.",
        too_long=f"The reason must be {PERSONAL_DATA_REASON_LIMIT} characters or fewer",
    )
    submit = SubmitField("Submit return", widget=GovSubmitInput())


class ApproveForm(FlaskForm):
    version = HiddenField()
    approve = SubmitField("Approve return", widget=GovSubmitInput())


class RequestChangesForm(FlaskForm):
    version = HiddenField()
    comment = text_area(
        "What needs to change",
        2000,
        required="Enter what needs to change",
        hint="The partner sees this on their home page and on the return.",
    )
    request_changes = SubmitField("Send back for changes", widget=GovSubmitInput())


class RedactionForm(FlaskForm):
    """A passage of a submitted revision to remove for good: which answer, the exact words, and why."""

    field = RadioField(
        "Which answer is the passage in?",
        widget=GovRadioInput(),
        validators=[DataRequired(message="Select the answer the passage is in")],
    )
    passage = text_area(
        "The passage to remove",
        3000,
        required="Enter the passage to remove",
        hint="Copy it exactly as it appears in the answer, for example a name, a postcode or a sentence.",
    )
    reason = text_area(
        "Why it is being removed",
        REDACTION_REASON_LIMIT,
        required="Enter why the passage is being removed",
        hint="Say what it is, for example “a victim’s name and address”, without repeating it.",
    )
    redact = SubmitField("Remove the passage", widget=GovSubmitInput())


class ReopenForm(FlaskForm):
    version = HiddenField()
    reason = text_area(
        "Why the return is being reopened",
        2000,
        required="Enter why the return is being reopened",
        too_long="The reason must be 2,000 characters or fewer",
    )
    reopen = SubmitField("Reopen return", widget=GovSubmitInput())


class CsuRatingForm(FlaskForm):
    quarter = RadioField("Quarter", coerce=int, widget=GovRadioInput(), validate_choice=False)
    rag = RadioField(
        "Your rating",
        choices=[SelectChoice(rag, RAG_LABELS[rag]) for rag in RAGS],
        widget=GovRadioInput(),
        validate_choice=False,  # checked below, with a message a person can act on
    )
    reason = text_area(
        "Reason",
        1000,
        required="Enter the reason for your rating",
        too_long="The reason must be 1,000 characters or fewer",
    )
    save = SubmitField("Save rating", widget=GovSubmitInput())

    def validate_quarter(self, field) -> None:
        if field.data not in {value for value, _ in self.quarter.choices}:
            raise ValidationError("Select a quarter that has started")

    def validate_rag(self, field) -> None:
        if field.data not in RAG_LABELS:
            raise ValidationError(SELECT_RAG)
