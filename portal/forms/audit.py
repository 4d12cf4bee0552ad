"""The audit trail's filters: a GET form, so a filtered trail has an address to keep and share."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextInput
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Optional, ValidationError

from ..models.vocabulary import OBJECT_TYPE_LABELS, SYSTEM_ACTOR
from .finance import GovDateField
from .returns import strip

SYSTEM = "system"  # the actor filter's value for events with no person behind them


class AuditTrailFilterForm(FlaskForm):
    """`actor`'s choices are set by the view from the people in the trail."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    actor = SelectField("Who", widget=GovSelect(), choices=[], validate_choice=False)
    object_type = SelectField(
        "Kind of object",
        widget=GovSelect(),
        choices=[
            SelectChoice("", "Any kind"),
            *(SelectChoice(value, label) for value, label in sorted(OBJECT_TYPE_LABELS.items(), key=lambda i: i[1])),
        ],
        validate_choice=False,
    )
    object_id = StringField(
        "Object number (optional)",
        description="One object's events: its kind and the number the trail shows for it, like 12",
        widget=GovTextInput(),
        filters=[strip],
        validators=[Optional()],
    )
    # No Optional(): it would pass over a date whose day alone is blank. All three blank is no date.
    date_from = GovDateField("Date from", example="1 4 2021", description="Optional. For example, 1 4 2021")
    date_to = GovDateField("Date to", example="31 3 2022", description="Optional. For example, 31 3 2022")

    def offer_actors(self, people: list[tuple[str, str]]) -> None:
        """Anyone, the portal itself, then each person (id, label) who appears in the trail."""
        self.actor.choices = [SelectChoice("", "Anyone"), SelectChoice(SYSTEM, SYSTEM_ACTOR)] + [
            SelectChoice(value, label) for value, label in people
        ]

    def validate_actor(self, field) -> None:
        if field.data and field.data not in {choice.value for choice in field.choices}:
            raise ValidationError("Select someone from the list")

    def validate_object_type(self, field) -> None:
        if field.data and field.data not in OBJECT_TYPE_LABELS:
            raise ValidationError("Select a kind of object from the list")
        if self.object_id.data and not field.data:
            raise ValidationError("Select the kind of object as well as its number")

    def validate_object_id(self, field) -> None:
        if field.data and (not field.data.isascii() or not field.data.isdigit() or len(field.data) > 12):
            raise ValidationError("Object number must be a whole number, like 12")

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("Date to must be the same as or after date from")

    @property
    def actor_id(self) -> int | None:
        return int(self.actor.data) if (self.actor.data or "").isdigit() else None
