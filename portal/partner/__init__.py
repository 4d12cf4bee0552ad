"""The partner's pages: its own organisation's projects and their quarterly returns, and nothing else.

This is the audience's route table; the views live in `views` and `returns`.
"""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import PARTNER
from . import returns, views

bp = Blueprint("partner", __name__, url_prefix="/partner")
bp.before_request(require_role(PARTNER))

bp.add_url_rule("/", view_func=views.home, defaults={"year_label": None})
bp.add_url_rule("/<year_label>/", view_func=views.home)
bp.add_url_rule("/projects/<int:project_id>", view_func=views.project_view)

RETURN = "/projects/<int:project_id>/q<int:quarter>"
bp.add_url_rule(f"{RETURN}/", view_func=returns.return_overview)
bp.add_url_rule(f"{RETURN}/outputs", view_func=returns.return_outputs, methods=["GET", "POST"])
bp.add_url_rule(f"{RETURN}/spend", view_func=returns.return_spend, methods=["GET", "POST"])
bp.add_url_rule(f"{RETURN}/narrative", view_func=returns.return_narrative, methods=["GET", "POST"])
bp.add_url_rule(f"{RETURN}/personal-data-check", view_func=returns.return_personal_data_check, methods=["POST"])
bp.add_url_rule(f"{RETURN}/check", view_func=returns.return_check, methods=["GET", "POST"])
bp.add_url_rule(f"{RETURN}/submitted/<int:revision>", view_func=returns.return_submitted)
bp.add_url_rule(f"{RETURN}/revisions/<int:number>", view_func=returns.return_revision)
bp.add_url_rule(f"{RETURN}/compare", view_func=returns.return_compare)
