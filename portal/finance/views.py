"""Finance's pages: the year's funding streams, what is awarded and what is left."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth.guards import require_role
from ..models.user import ADMIN, CSU, FINANCE
from ..services.figures import stream_figures
from ..services.years import all_years, default_year, year_or_404

bp = Blueprint("finance", __name__, url_prefix="/finance")
# The CSU reads finance figures; changing them is for finance and admin (later pages).
bp.before_request(require_role(FINANCE, CSU, ADMIN))


@bp.route("/", defaults={"year_label": None})
@bp.route("/<year_label>/")
def home(year_label: str | None):
    years = all_years()
    year = year_or_404(year_label) if year_label else default_year(years)
    streams = stream_figures(year) if year else []
    return render_template("finance/home.html", years=years, year=year, streams=streams)
