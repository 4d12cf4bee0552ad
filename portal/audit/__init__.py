"""The audit trail, read by the Community Safety Unit and administrators. The route table.

Its own audience: the CSU's pages admit finance, and the admin pages refuse the CSU, so neither guard fits.
A partner is told nothing exists here (404); finance is refused (403).
"""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import AUDIT_READERS
from . import views

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_role(*AUDIT_READERS))

bp.add_url_rule("/", view_func=views.trail)
bp.add_url_rule("/events.csv", view_func=views.trail_csv)
