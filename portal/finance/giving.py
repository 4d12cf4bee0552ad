"""360Giving open data for a year: the grants package (JSON) and the standard's flat CSV.

Finance, the CSU and admin may download them (the blueprint's guard); partners get 404.
"""

from __future__ import annotations

from flask import Response, abort, current_app

from ..auth.loaders import load_year
from ..services import giving360
from ..services.exports import csv_response


def _package(year_label: str) -> tuple[str, dict]:
    year = load_year(year_label)
    projects = giving360.year_projects(year)
    if not projects:
        abort(404)  # a 360Giving package holds at least one grant: this year has none to publish
    return year.label, giving360.grants_package(year, current_app.config, projects)


def giving_json(year_label: str):
    label, package = _package(year_label)
    response = Response(giving360.dumps(package), content_type="application/json; charset=utf-8")
    response.headers.set("Content-Disposition", "attachment", filename=f"360giving-{label}.json")
    response.headers["Cache-Control"] = "no-store"
    return response


def giving_csv(year_label: str):
    label, package = _package(year_label)
    header, *rows = giving360.grants_csv(package)
    return csv_response(f"360giving-{label}.csv", header, rows)
