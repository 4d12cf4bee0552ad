"""What the set-up views share: who may change a year's set-up, and a refused change shown on its form."""

from __future__ import annotations

from flask import abort, make_response
from flask_login import current_user

from ..errors import render_error
from ..extensions import db
from ..models import FinancialYear, User
from ..services.setup import SetupError, YearClosed


def viewer() -> User:
    return current_user._get_current_object()  # the real User, for the models' predicates


def ensure_editable(year: FinancialYear) -> None:
    """Finance reads the set-up (403 for its forms); a closed year's set-up is read-only (409)."""
    if not year.can_set_up(viewer()):
        abort(403)
    if year.is_closed:
        abort(
            make_response(
                render_error(
                    409,
                    title=f"The {year.label} financial year is closed",
                    message="Its set-up cannot change. An administrator can reopen the year on finance's "
                    "year-end page.",
                )
            )
        )


def refuse(form, error: SetupError) -> int:
    """Undo the request's changes and put the service's message beside its field (or above the form);
    the status to answer with: 409 for a closed year, 422 for what was typed."""
    db.session.rollback()
    target = getattr(form, error.field, None) if error.field else None
    if target is not None:
        target.errors = [*target.errors, str(error)]
    else:
        form.form_errors.append(str(error))
    return 409 if isinstance(error, YearClosed) else 422
