"""The partner's pages: its own organisation's projects, and nothing else."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..auth.loaders import load_project, pick_year
from ..models import Project
from ..services.delivery import project_delivery, year_delivery
from ..services.ledger import payments_ledger


def home(year_label: str | None):
    years, year = pick_year(year_label)
    rows = year_delivery(year, organisation_id=current_user.organisation_id) if year else []
    rows.sort(key=lambda row: row.project.name.casefold())
    return render_template(
        "partner/home.html", years=years, year=year, rows=rows, organisation=current_user.organisation
    )


def project_view(project_id: int):
    project = load_project(project_id, check=Project.can_edit_returns)
    ledger = payments_ledger(project)  # the page shows the payments, not the finance team's instalment schedule
    row = project_delivery(project, paid_pence=ledger.paid_pence)  # and reads them once, for both
    return render_template("partner/project.html", project=project, row=row, ledger=ledger)
