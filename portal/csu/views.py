"""The Community Safety Unit's pages: every project, budget against delivery."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth.guards import require_role
from ..models.user import ADMIN, CSU, FINANCE
from ..services.figures import project_rows
from ..services.years import all_years, default_year, year_or_404

bp = Blueprint("csu", __name__, url_prefix="/csu")
# Finance reads the CSU's pages too; only the CSU changes anything on them.
bp.before_request(require_role(CSU, FINANCE, ADMIN))


@bp.route("/", defaults={"year_label": None})
@bp.route("/<year_label>/")
def home(year_label: str | None):
    years = all_years()
    year = year_or_404(year_label) if year_label else default_year(years)
    rows = project_rows(year) if year else []
    totals = {
        "award": sum(row.project.amount_pence for row in rows),
        "paid": sum(row.paid_pence for row in rows),
        "spend": sum(row.reported_spend_pence for row in rows),
    }
    return render_template("csu/home.html", years=years, year=year, rows=rows, totals=totals)


from . import reviews  # noqa: E402,F401  (review pages share this blueprint)
