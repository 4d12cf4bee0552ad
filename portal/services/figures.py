"""Budget figures computed from the ledger and the returns: never typed, never stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from ..calendar import uk_today
from ..extensions import db
from ..models import FinancialYear, FundingStream, MonitoringReturn, Organisation, Payment, Project
from ..models.monitoring_return import CHANGES_REQUESTED, NOT_STARTED, STATUS_LABELS
from ..models.payment import PAYMENT
from ..models.types import utcnow


@dataclass
class QuarterState:
    number: int
    status: str
    due: object
    overdue: bool
    open: bool
    return_id: int | None = None
    comment: str | None = None

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class ProjectRow:
    project: Project
    paid_pence: int = 0
    reported_spend_pence: int = 0
    quarters: list[QuarterState] = field(default_factory=list)


def paid_by_project(project_ids: list[int]) -> dict[int, int]:
    if not project_ids:
        return {}
    signed = case((Payment.kind == PAYMENT, Payment.amount_pence), else_=-Payment.amount_pence)
    rows = db.session.execute(
        select(Payment.project_id, func.sum(signed))
        .where(Payment.project_id.in_(project_ids))
        .group_by(Payment.project_id)
    )
    return {project_id: int(total) for project_id, total in rows}


def returns_by_project(project_ids: list[int]) -> dict[int, dict[int, MonitoringReturn]]:
    found: dict[int, dict[int, MonitoringReturn]] = {}
    if not project_ids:
        return found
    for mreturn in db.session.scalars(select(MonitoringReturn).where(MonitoringReturn.project_id.in_(project_ids))):
        found.setdefault(mreturn.project_id, {})[mreturn.quarter] = mreturn
    return found


def project_rows(
    year: FinancialYear,
    *,
    organisation: Organisation | None = None,
    only: Project | None = None,
    now: datetime | None = None,
) -> list[ProjectRow]:
    """Every project of a year (of one organisation, when given) with paid, spend and quarter states.

    Four queries whatever the number of projects.
    """
    now = now or utcnow()
    query = (
        select(Project)
        .where(Project.year_id == year.id)
        .options(joinedload(Project.organisation), joinedload(Project.priority), joinedload(Project.funding_stream))
        .join(Project.organisation)
        .order_by(Organisation.name, Project.name)
    )
    if organisation is not None:
        query = query.where(Project.organisation_id == organisation.id)
    if only is not None:
        query = query.where(Project.id == only.id)
    projects = list(db.session.scalars(query))
    ids = [project.id for project in projects]
    paid = paid_by_project(ids)
    returns = returns_by_project(ids)
    today = uk_today(now)
    rows = []
    for project in projects:
        row = ProjectRow(project=project, paid_pence=paid.get(project.id, 0))
        for quarter in year.quarters:
            mreturn = returns.get(project.id, {}).get(quarter.number)
            status = mreturn.status if mreturn else NOT_STARTED
            reported = mreturn is not None and mreturn.is_reported
            if reported and mreturn.spend_pence:
                row.reported_spend_pence += mreturn.spend_pence
            row.quarters.append(
                QuarterState(
                    number=quarter.number,
                    status=status,
                    due=quarter.due,
                    overdue=not reported and quarter.is_overdue(now),
                    open=quarter.has_started(today),
                    return_id=mreturn.id if mreturn else None,
                    comment=mreturn.review_comment if mreturn and mreturn.status == CHANGES_REQUESTED else None,
                )
            )
        rows.append(row)
    return rows


@dataclass
class StreamFigures:
    stream: FundingStream
    awarded_pence: int

    @property
    def unallocated_pence(self) -> int:
        return self.stream.amount_pence - self.awarded_pence

    @property
    def over_allocated(self) -> bool:
        return self.unallocated_pence < 0


def stream_figures(year: FinancialYear) -> list[StreamFigures]:
    """Each funding stream of a year with what has been awarded from it. Two queries."""
    streams = list(
        db.session.scalars(select(FundingStream).where(FundingStream.year_id == year.id).order_by(FundingStream.name))
    )
    awarded = dict(
        db.session.execute(
            select(Project.funding_stream_id, func.sum(Project.amount_pence))
            .where(Project.year_id == year.id)
            .group_by(Project.funding_stream_id)
        ).all()
    )
    return [StreamFigures(stream=stream, awarded_pence=int(awarded.get(stream.id) or 0)) for stream in streams]
