"""A return's submitted revisions, one at a time or two side by side: the same pages for the partner
and the CSU, each blueprint loading the return its own way and saying where "Back" goes."""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from .models import MonitoringReturn
from .services import returns as service


def revision_page(
    mreturn: MonitoringReturn | None, number: int, *, back: str, redact_endpoint: str | None = None
) -> str:
    """One revision; `redact_endpoint` (the CSU's) adds the link to remove a passage from it."""
    pair = service.revisions_to_compare(mreturn, number, number)
    if mreturn is None or pair is None:
        abort(404)
    revision = pair[0]
    return render_template(
        "returns/revision.html",
        project=mreturn.project,
        quarter=mreturn.project.year.quarter(mreturn.quarter),
        mreturn=mreturn,
        revision=revision,
        answers=service.revision_answers(mreturn.project, revision),
        back=back,
        redact_url=url_for(redact_endpoint, return_id=mreturn.id, number=number) if redact_endpoint else None,
    )


def compare_page(mreturn: MonitoringReturn | None, *, back: str) -> str:
    """Two revisions named by ?from= and ?to= (default: the last two), older first."""
    pair = service.revisions_to_compare(mreturn, request.args.get("from", type=int), request.args.get("to", type=int))
    if mreturn is None or pair is None:
        abort(404)
    older, newer = pair
    return render_template(
        "returns/compare.html",
        project=mreturn.project,
        quarter=mreturn.project.year.quarter(mreturn.quarter),
        mreturn=mreturn,
        older=older,
        newer=newer,
        rows=service.compare_revisions(mreturn.project, older, newer),
        back=back,
    )
