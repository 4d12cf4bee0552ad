"""The CSU's chase from the due list: which overdue returns to chase."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.validators import ValidationError

SELECT_ONE = "Select at least one overdue return to chase"
NOT_CHASEABLE = "A return you selected is no longer overdue or cannot be chased: select from the list again"


class ChaseForm(FlaskForm):
    """The view sets `returns.choices` to the overdue returns someone can be reminded of ("<project>-<quarter>")."""

    returns = SelectMultipleField("Overdue returns to chase", choices=[], validate_choice=False)

    def validate_returns(self, field: SelectMultipleField) -> None:
        if not field.data:
            raise ValidationError(SELECT_ONE)
        allowed = {str(value) for value, _label in field.choices}
        if set(field.data) - allowed:
            raise ValidationError(NOT_CHASEABLE)
