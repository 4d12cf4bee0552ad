"""The Community Safety Unit's pages: every project, budget against delivery, reviews and reports.

This is the audience's route table; the views live in `views`, `reviews` and `reports`.
"""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import ADMIN, CSU, FINANCE
from . import chasing, reports, reviews, views

bp = Blueprint("csu", __name__, url_prefix="/csu")
# Finance and admin read the CSU's pages too; the model predicates decide who may change anything.
bp.before_request(require_role(CSU, FINANCE, ADMIN))

bp.add_url_rule("/", view_func=views.home, defaults={"year_label": None})
bp.add_url_rule("/<year_label>/", view_func=views.home)
bp.add_url_rule("/projects/<int:project_id>", view_func=views.project_view, methods=["GET", "POST"])
bp.add_url_rule("/projects/<int:project_id>/due-dates", view_func=views.arrangement_save, methods=["POST"])
bp.add_url_rule("/due", view_func=chasing.due_list)
bp.add_url_rule("/due/chase/preview", view_func=chasing.chase_preview, methods=["POST"])
bp.add_url_rule("/due/chase", view_func=chasing.chase_send, methods=["POST"])
bp.add_url_rule("/<year_label>/priorities", view_func=views.priorities)

bp.add_url_rule("/reviews", view_func=reviews.review_queue)
bp.add_url_rule("/returns/<int:return_id>", view_func=reviews.return_review)
bp.add_url_rule("/returns/<int:return_id>/approve", view_func=reviews.return_approve, methods=["POST"])
bp.add_url_rule("/returns/<int:return_id>/request-changes", view_func=reviews.return_request_changes, methods=["POST"])
bp.add_url_rule("/returns/<int:return_id>/reopen", view_func=reviews.return_reopen, methods=["POST"])
bp.add_url_rule("/returns/<int:return_id>/revisions/<int:number>", view_func=reviews.return_revision)
bp.add_url_rule("/returns/<int:return_id>/compare", view_func=reviews.return_compare)
bp.add_url_rule(
    "/returns/<int:return_id>/revisions/<int:number>/redact", view_func=reviews.return_redact, methods=["GET", "POST"]
)

bp.add_url_rule("/<year_label>/projects.<fmt>", view_func=reports.projects_export)
bp.add_url_rule("/<year_label>/measures.<fmt>", view_func=reports.measures_export)
bp.add_url_rule("/<year_label>/measures-for-publication.<fmt>", view_func=reports.measures_publication_export)
bp.add_url_rule("/<year_label>/annual-report", "annual_report", view_func=reports.annual_report_page)
bp.add_url_rule("/<year_label>/annual-report.docx", view_func=reports.annual_report_docx)
