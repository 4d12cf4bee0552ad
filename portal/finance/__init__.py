"""Finance's pages: the PCC grant ledger — allocation, payments, variations, schedule, year end and downloads.

This is the audience's route table; the views live in `views`, `exports` and `giving`.
"""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import ADMIN, CSU, FINANCE
from . import exports, giving, views

bp = Blueprint("finance", __name__, url_prefix="/finance")
# The CSU reads finance figures; the model predicates decide who may change them.
bp.before_request(require_role(FINANCE, CSU, ADMIN))

bp.add_url_rule("/", view_func=views.home, defaults={"year_label": None})
bp.add_url_rule("/<year_label>/", view_func=views.home)
bp.add_url_rule("/projects/<int:project_id>", view_func=views.project_view)
bp.add_url_rule("/projects/<int:project_id>/payments/new", view_func=views.payment_new)
bp.add_url_rule("/projects/<int:project_id>/payments", view_func=views.payment_record, methods=["POST"])
bp.add_url_rule("/payments/<int:payment_id>/reverse", view_func=views.payment_reverse, methods=["GET", "POST"])
bp.add_url_rule("/projects/<int:project_id>/variations/new", view_func=views.variation_new)
bp.add_url_rule("/projects/<int:project_id>/variations", view_func=views.award_vary, methods=["POST"])
bp.add_url_rule("/projects/<int:project_id>/instalments/new", view_func=views.instalment_new)
bp.add_url_rule("/projects/<int:project_id>/instalments", view_func=views.instalment_add, methods=["POST"])
bp.add_url_rule("/instalments/<int:instalment_id>/remove", view_func=views.instalment_remove, methods=["POST"])
bp.add_url_rule("/<year_label>/ledger", view_func=views.ledger)
bp.add_url_rule("/<year_label>/reconciliation", view_func=views.reconciliation)
bp.add_url_rule("/<year_label>/close", view_func=views.year_close, methods=["POST"])
bp.add_url_rule("/<year_label>/reopen", view_func=views.year_reopen, methods=["POST"])

bp.add_url_rule("/<year_label>/allocation.<fmt>", view_func=exports.allocation_export)
bp.add_url_rule("/<year_label>/ledger.<fmt>", view_func=exports.ledger_export)
bp.add_url_rule("/<year_label>/360giving.json", view_func=giving.giving_json)
bp.add_url_rule("/<year_label>/360giving.csv", view_func=giving.giving_csv)
