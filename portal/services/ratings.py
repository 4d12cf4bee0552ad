"""The CSU's rating of a project for a quarter."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import CsuRating, Project, User
from . import audit
from .returns import ReturnError


def set_csu_rating(project: Project, quarter: int, rag: str, reason: str, *, by: User) -> CsuRating:
    if project.year.is_closed:
        raise ReturnError(f"The {project.year.label} financial year is closed")
    rating = db.session.scalar(
        select(CsuRating).where(CsuRating.project_id == project.id, CsuRating.quarter == quarter)
    )
    before = {"rag": rating.rag, "reason": rating.reason} if rating else None
    if rating is None:
        rating = CsuRating(project=project, quarter=quarter, rag=rag, reason=reason, set_by_id=by.id)
        db.session.add(rating)
    else:
        rating.rag, rating.reason, rating.set_by_id = rag, reason, by.id
    db.session.flush()
    audit.record(
        "csu_rating.set",
        object_type="project",
        object_id=project.id,
        summary=f"CSU rated Q{quarter} of {project.name} {rag.capitalize()}",
        actor=by,
        organisation_id=project.organisation_id,
        details={"quarter": quarter, "before": before, "after": {"rag": rag, "reason": reason}},
    )
    return rating
