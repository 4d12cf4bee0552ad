"""A year's set-up: the year, its funding streams, priorities, projects and output measures, rolling a year over,
and the set-up workbook. This is the route table; the views live in `years`, `projects` and `files`.

Its own audience rather than part of /csu/: the CSU and administrators both set years up, and finance reads the
set-up (`FinancialYear.can_set_up` decides who may change it), so no audience's guard fits it as it stands.
"""

from flask import Blueprint

from ..auth.guards import require_role
from ..models.user import ADMIN, CSU, FINANCE
from . import files, projects, years

bp = Blueprint("setup", __name__, url_prefix="/setup")
bp.before_request(require_role(CSU, ADMIN, FINANCE))

FORM = ["GET", "POST"]
bp.add_url_rule("/", view_func=years.home)
bp.add_url_rule("/years/new", view_func=years.year_create, methods=FORM)
bp.add_url_rule("/<year_label>/", view_func=years.year_view)
bp.add_url_rule("/<year_label>/edit", view_func=years.year_edit, methods=FORM)
bp.add_url_rule("/<year_label>/streams/new", view_func=years.stream_create, methods=FORM)
bp.add_url_rule("/streams/<int:stream_id>/edit", view_func=years.stream_edit, methods=FORM)
bp.add_url_rule("/<year_label>/priorities/new", view_func=years.priority_create, methods=FORM)
bp.add_url_rule("/priorities/<int:priority_id>/edit", view_func=years.priority_edit, methods=FORM)
bp.add_url_rule("/<year_label>/roll-over", view_func=years.roll_over, methods=FORM)

bp.add_url_rule("/<year_label>/projects/new", view_func=projects.project_create, methods=FORM)
bp.add_url_rule("/projects/<int:project_id>", view_func=projects.project_view)
bp.add_url_rule("/projects/<int:project_id>/edit", view_func=projects.project_edit, methods=FORM)
bp.add_url_rule("/projects/<int:project_id>/measures/new", view_func=projects.measure_create, methods=FORM)
bp.add_url_rule("/measures/<int:measure_id>/edit", view_func=projects.measure_edit, methods=FORM)
bp.add_url_rule("/measures/<int:measure_id>/retire", view_func=projects.measure_retire, methods=FORM)

bp.add_url_rule("/<year_label>/workbook.xlsx", view_func=files.workbook_download)
bp.add_url_rule("/<year_label>/workbook", view_func=files.workbook_upload, methods=FORM)
