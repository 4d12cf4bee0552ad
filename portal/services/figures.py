"""Budget figures computed from the ledger and the returns: never typed, never stored."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import FinancialYear, FundingStream, Payment, Project


def paid_by_project(project_ids: list[int]) -> dict[int, int]:
    """*Paid*: each project's payments less their reversals (`Payment.signed_pence`), in one query."""
    if not project_ids:
        return {}
    rows = db.session.execute(
        select(Payment.project_id, func.sum(Payment.signed_pence))
        .where(Payment.project_id.in_(project_ids))
        .group_by(Payment.project_id)
    )
    return {project_id: int(total) for project_id, total in rows}


@dataclass
class StreamFigures:
    stream: FundingStream
    awarded_pence: int
    project_count: int = 0  # the awards made from it

    @property
    def unallocated_pence(self) -> int:
        return self.stream.amount_pence - self.awarded_pence

    @property
    def over_allocated(self) -> bool:
        return self.unallocated_pence < 0


def stream_figures(year: FinancialYear) -> list[StreamFigures]:
    """Each funding stream of a year, by name, with what has been awarded from it and to how many projects. Two
    queries."""
    streams = list(
        db.session.scalars(
            select(FundingStream).where(FundingStream.year_id == year.id).order_by(FundingStream.name, FundingStream.id)
        )
    )
    awarded = {
        stream_id: (int(total or 0), count)
        for stream_id, total, count in db.session.execute(
            select(Project.funding_stream_id, func.sum(Project.amount_pence), func.count(Project.id))
            .where(Project.year_id == year.id)
            .group_by(Project.funding_stream_id)
        )
    }
    return [StreamFigures(stream, *awarded.get(stream.id, (0, 0))) for stream in streams]
