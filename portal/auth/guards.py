"""Role guards for blueprints: sign-in first, then the audience's role."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort
from flask_login import current_user

from ..extensions import login_manager
from ..models.user import ADMIN, CSU, FINANCE


def require_role(*roles: str) -> Callable[[], None]:
    """A before_request hook: signed-out -> sign in; lacking the role -> 403 for staff, 404 for partners."""

    def guard():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.has_role(*roles):
            # A partner is not told that staff pages exist.
            abort(403 if current_user.has_role(CSU, FINANCE, ADMIN) else 404)
        return None

    return guard
