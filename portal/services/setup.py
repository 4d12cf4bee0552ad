"""A year's set-up: the year, its funding streams, priorities, projects and their output measures, and rolling
a year over into the next. Every change is audited with what it was before and after. Services flush; the
view commits once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..calendar import year_label
from ..extensions import db
from ..models import FinancialYear, FundingStream, MeasureValue, Organisation, OutputMeasure, Priority, Project, User
from ..models.types import utcnow
from ..money import format_pence
from . import audit
from .ledger import LedgerError, vary_award

# The audit action of an award changed on the set-up pages: the ledger keeps it as a variation like finance's,
# and the over-allocation it may cause was confirmed here (`check_allocation`), not by the ledger.
AWARD_VARIED_IN_SETUP = "award.varied_in_setup"


class SetupError(ValueError):
    """A change the set-up rules refuse; the message is for the person and names the field.

    `confirms` is set when the change may go ahead once confirmed: the value the confirmation box must carry
    (the pence over), so a box ticked for one figure never confirms another.
    """

    def __init__(self, message: str, field: str | None = None, *, confirms: str | None = None):
        super().__init__(message)
        self.field = field
        self.confirms = confirms


class YearClosed(SetupError):
    """Refused because the year is closed, not because of anything typed."""


def ensure_open(year: FinancialYear) -> None:
    if year.is_closed:
        raise YearClosed(f"The {year.label} financial year is closed: its set-up cannot change until it is reopened")


# -- auditing -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _assign(obj: Any, values: dict[str, Any]) -> dict[str, list]:
    """Set attributes; {name: [before, after]} for those that changed."""
    changes = {}
    for name, value in values.items():
        before = getattr(obj, name)
        if before != value:
            changes[name] = [_plain(before), _plain(value)]
            setattr(obj, name, value)
    return changes


def _record(kind: str, verb: str, obj: Any, summary: str, changes: dict[str, list], by: User | None) -> None:
    audit.record(
        f"{kind}.{verb}",
        object_type=kind,
        object_id=obj.id,
        summary=summary,
        actor=by,
        organisation_id=getattr(obj, "organisation_id", None),
        details={"changes": changes},
    )


def _create(kind: str, obj: Any, values: dict[str, Any], summary: str, by: User | None) -> None:
    """Add a new row with its values, and audit it (every value as a change from nothing)."""
    _assign(obj, values)
    db.session.add(obj)
    db.session.flush()
    _record(kind, "created", obj, summary, {name: [None, _plain(value)] for name, value in values.items()}, by)


def _update(kind: str, obj: Any, values: dict[str, Any], summary: str, by: User | None) -> dict[str, list]:
    changes = _assign(obj, values)
    if changes:
        db.session.flush()
        _record(kind, "updated", obj, summary, changes, by)
    return changes


# -- the year -----------------------------------------------------------------------------------


def create_year(start_year: int, *, return_due_days: int, by: User | None) -> FinancialYear:
    if db.session.scalar(select(FinancialYear.id).where(FinancialYear.start_year == start_year)) is not None:
        raise SetupError(f"{year_label(start_year)} is already set up", "label")
    year = FinancialYear(start_year=start_year)
    _create(
        "financial_year",
        year,
        {"return_due_days": return_due_days, "illustrative": False},
        f"Set up the {year.label} financial year",
        by,
    )
    return year


def update_year(year: FinancialYear, *, return_due_days: int, by: User | None) -> dict[str, list]:
    ensure_open(year)
    return _update(
        "financial_year", year, {"return_due_days": return_due_days}, f"Changed the {year.label} financial year", by
    )


# -- funding streams and priorities ---------------------------------------------------------------


def _stream_named(year: FinancialYear, name: str, other_than: FundingStream | None = None) -> None:
    found = db.session.scalar(
        select(FundingStream.id).where(FundingStream.year_id == year.id, func.lower(FundingStream.name) == name.lower())
    )
    if found is not None and (other_than is None or found != other_than.id):
        raise SetupError(f"{year.label} already has a funding stream called {name}", "name")


def create_stream(year: FinancialYear, *, name: str, funder: str, amount_pence: int, by: User | None) -> FundingStream:
    ensure_open(year)
    _stream_named(year, name)
    stream = FundingStream(year_id=year.id)
    values = {"name": name, "funder": funder, "amount_pence": amount_pence}
    _create("funding_stream", stream, values, f"Added funding stream {name} {format_pence(amount_pence)}", by)
    return stream


def update_stream(
    stream: FundingStream, *, name: str, funder: str, amount_pence: int, by: User | None
) -> dict[str, list]:
    ensure_open(stream.year)
    _stream_named(stream.year, name, stream)
    values = {"name": name, "funder": funder, "amount_pence": amount_pence}
    return _update("funding_stream", stream, values, f"Changed funding stream {name}", by)


def _year_priorities(year: FinancialYear) -> list[Priority]:
    return list(db.session.scalars(select(Priority).where(Priority.year_id == year.id).order_by(Priority.rank)))


def _rerank(year: FinancialYear, priority: Priority | None, rank: int | None, by: User | None) -> int:
    """Move the year's other priorities to make room for this one (a new one: None) at `rank` (last when None),
    keeping their order; the rank it gets."""
    others = [item for item in _year_priorities(year) if item is not priority]
    place = len(others) if rank is None else min(max(rank, 1), len(others) + 1) - 1
    for number, item in enumerate(others, start=1):
        number = number if number <= place else number + 1
        if item.rank != number:
            _update("priority", item, {"rank": number}, f"Priority {item.name} moved to rank {number}", by)
    return place + 1


def _priority_named(year: FinancialYear, name: str, other_than: Priority | None = None) -> None:
    found = db.session.scalar(
        select(Priority.id).where(Priority.year_id == year.id, func.lower(Priority.name) == name.lower())
    )
    if found is not None and (other_than is None or found != other_than.id):
        raise SetupError(f"{year.label} already has a priority called {name}", "name")


def create_priority(year: FinancialYear, *, name: str, rank: int | None, by: User | None) -> Priority:
    ensure_open(year)
    _priority_named(year, name)
    number = _rerank(year, None, rank, by)
    priority = Priority(year_id=year.id)
    _create("priority", priority, {"name": name, "rank": number}, f"Added priority {number}: {name}", by)
    return priority


def update_priority(priority: Priority, *, name: str, rank: int | None, by: User | None) -> dict[str, list]:
    ensure_open(priority.year)
    _priority_named(priority.year, name, priority)
    number = _rerank(priority.year, priority, rank, by)
    return _update("priority", priority, {"name": name, "rank": number}, f"Changed priority {number}: {name}", by)


# -- projects and what is left to award -----------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """A funding stream's total against what its projects (but one, when a project's award is changing) have."""

    stream: FundingStream
    awarded_pence: int

    @property
    def unallocated_pence(self) -> int:
        return self.stream.amount_pence - self.awarded_pence

    def over_by(self, amount_pence: int) -> int:
        return max(amount_pence - max(self.unallocated_pence, 0), 0)

    def refusal(self, amount_pence: int) -> str:
        return (
            f"An award of {format_pence(amount_pence)} takes {self.stream.name} past its total of "
            f"{format_pence(self.stream.amount_pence)}: {format_pence(self.awarded_pence)} is awarded to its other "
            f"projects, leaving {format_pence(self.unallocated_pence)} unallocated, so this is "
            f"{format_pence(self.over_by(amount_pence))} over. Enter a smaller award, or confirm the over-allocation "
            "and give a reason"
        )


def allocation(stream: FundingStream, *, leaving_out: Project | None = None) -> Allocation:
    query = select(func.coalesce(func.sum(Project.amount_pence), 0)).where(Project.funding_stream_id == stream.id)
    if leaving_out is not None and leaving_out.id is not None:
        query = query.where(Project.id != leaving_out.id)
    return Allocation(stream, int(db.session.scalar(query) or 0))


@dataclass(frozen=True)
class OverAllocation:
    """What the person confirmed: the box's value (the pence over, as shown to them) and their reason."""

    confirmed: str | None = None
    reason: str | None = None


def check_allocation(
    stream: FundingStream, amount_pence: int, confirmation: OverAllocation, project: Project | None = None
) -> dict[str, Any]:
    """Refuse an award past the stream's unallocated amount unless confirmed with a reason; what to audit."""
    found = allocation(stream, leaving_out=project)
    over = found.over_by(amount_pence)
    if not over:
        return {}
    if confirmation.confirmed != str(over):
        raise SetupError(found.refusal(amount_pence), "confirm_over_allocation", confirms=str(over))
    if not confirmation.reason:
        raise SetupError("Enter why the stream is being over-allocated", "over_allocation_reason", confirms=str(over))
    return {
        "over_allocated_by_pence": over,
        "stream_total_pence": stream.amount_pence,
        "awarded_to_others_pence": found.awarded_pence,
        "reason": confirmation.reason,
    }


@dataclass(frozen=True)
class ProjectFields:
    """A project as the set-up form gives it (the organisation is fixed once the project exists)."""

    name: str
    funding_stream: FundingStream
    priority: Priority | None
    amount_pence: int
    actions: list[str] = field(default_factory=list)
    description: str | None = None
    spend_profile: list[int] | None = None  # planned spend per quarter in pence; None: the award ÷ 4 each

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "funding_stream_id": self.funding_stream.id,
            "priority_id": self.priority.id if self.priority else None,
            "actions": self.actions,
            "description": self.description,
            "spend_profile": self.spend_profile,
        }

    def check_profile(self) -> None:
        """A spend profile plans the whole award, quarter by quarter."""
        if self.spend_profile is not None and sum(self.spend_profile) != self.amount_pence:
            raise SetupError(
                f"The quarters' planned spend adds up to {format_pence(sum(self.spend_profile))}, not the award of "
                f"{format_pence(self.amount_pence)}",
                "q1_profile",
            )


def _project_named(year: FinancialYear, organisation_id: int, name: str, other_than: Project | None = None) -> None:
    found = db.session.scalar(
        select(Project.id).where(
            Project.year_id == year.id,
            Project.organisation_id == organisation_id,
            func.lower(Project.name) == name.lower(),
        )
    )
    if found is not None and (other_than is None or found != other_than.id):
        raise SetupError(f"This organisation already has a project called {name} in {year.label}", "name")


def _same_year(year: FinancialYear, fields: ProjectFields) -> None:
    """A stream or priority of another year is a tampered form."""
    if fields.funding_stream.year_id != year.id or (fields.priority and fields.priority.year_id != year.id):
        raise SetupError("Choose a funding stream and priority of this year", "funding_stream")


def create_project(
    year: FinancialYear,
    organisation: Organisation,
    fields: ProjectFields,
    *,
    over_allocation: OverAllocation = OverAllocation(),
    by: User | None,
) -> Project:
    ensure_open(year)
    _same_year(year, fields)
    if organisation.is_retired:
        raise SetupError(f"{organisation.name} is retired: it is offered for nothing new", "organisation")
    _project_named(year, organisation.id, fields.name)
    fields.check_profile()
    over = check_allocation(fields.funding_stream, fields.amount_pence, over_allocation)
    project = Project(year=year, organisation=organisation)
    values = {**fields.values(), "amount_pence": fields.amount_pence}
    summary = f"Awarded {format_pence(fields.amount_pence)} to {organisation.short_name}: {fields.name}"
    if over:
        summary += f", over-allocating {fields.funding_stream.name} by {format_pence(over['over_allocated_by_pence'])}"
    _create("project", project, values, summary, by)
    if over:
        _record("project", "over_allocated", project, summary, {"over_allocation": [None, over]}, by)
    return project


def update_project(
    project: Project,
    fields: ProjectFields,
    *,
    award_reason: str | None,
    over_allocation: OverAllocation = OverAllocation(),
    by: User | None,
) -> dict[str, list]:
    """Change a project; a changed award goes through the ledger as a variation, with its reason."""
    ensure_open(project.year)
    _same_year(project.year, fields)
    _project_named(project.year, project.organisation_id, fields.name, project)
    fields.check_profile()
    rises = fields.amount_pence > project.amount_pence or fields.funding_stream.id != project.funding_stream_id
    over = check_allocation(fields.funding_stream, fields.amount_pence, over_allocation, project) if rises else {}
    if fields.amount_pence != project.amount_pence and not award_reason:
        raise SetupError("Enter the reason for changing the award", "award_reason")
    changes = _update("project", project, fields.values(), f"Changed {project.name}", by)
    if fields.amount_pence != project.amount_pence:
        try:
            vary_award(
                project, to_pence=fields.amount_pence, reason=award_reason or "", by=by, action=AWARD_VARIED_IN_SETUP
            )
        except LedgerError as error:
            raise SetupError(str(error), "amount") from error
        changes["amount_pence"] = [project.amount_pence, fields.amount_pence]
    if over:
        _record("project", "over_allocated", project, f"Over-allocated by {project.name}", {"over": [None, over]}, by)
    return changes


# -- output measures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureFields:
    name: str
    unit: str
    definition: str | None
    combine: str
    decimals: bool
    annual_target: Decimal | None
    quarterly_targets: list[Decimal | None]
    counts_people: bool = False

    def values(self) -> dict[str, Any]:
        q1, q2, q3, q4 = self.quarterly_targets
        return {
            "name": self.name,
            "unit": self.unit,
            "definition": self.definition,
            "combine": self.combine,
            "decimals": self.decimals,
            "counts_people": self.counts_people,
            "annual_target": self.annual_target,
            "q1_target": q1,
            "q2_target": q2,
            "q3_target": q3,
            "q4_target": q4,
        }


def _measure_named(project: Project, name: str, other_than: OutputMeasure | None = None) -> None:
    found = db.session.scalar(
        select(OutputMeasure.id).where(
            OutputMeasure.project_id == project.id, func.lower(OutputMeasure.name) == name.lower()
        )
    )
    if found is not None and (other_than is None or found != other_than.id):
        raise SetupError(f"{project.name} already has a measure called {name}", "name")


def create_measure(project: Project, fields: MeasureFields, *, by: User | None) -> OutputMeasure:
    ensure_open(project.year)
    _measure_named(project, fields.name)
    position = db.session.scalar(
        select(func.coalesce(func.max(OutputMeasure.position) + 1, 0)).where(OutputMeasure.project_id == project.id)
    )
    measure = OutputMeasure(project=project, position=position or 0)
    summary = f"Added measure {fields.name} to {project.name}"
    _create("output_measure", measure, fields.values(), summary, by)
    return measure


def _fractional_values(measure: OutputMeasure) -> list[Decimal]:
    values = db.session.scalars(
        select(MeasureValue.value).where(MeasureValue.measure_id == measure.id, MeasureValue.value.is_not(None))
    )
    return [value for value in values if value is not None and value != value.to_integral_value()]


def update_measure(measure: OutputMeasure, fields: MeasureFields, *, by: User | None) -> dict[str, list]:
    """Change a measure; the figures already reported for it stay, under its new name."""
    ensure_open(measure.project.year)
    _measure_named(measure.project, fields.name, measure)
    if measure.decimals and not fields.decimals and _fractional_values(measure):
        raise SetupError(
            "Figures with decimal places have already been reported for this measure: keep up to 2 decimal places",
            "decimals",
        )
    return _update(
        "output_measure", measure, fields.values(), f"Changed measure {fields.name} of {measure.project.name}", by
    )


def retire_measure(measure: OutputMeasure, *, by: User | None) -> None:
    """No longer asked for in returns not yet submitted; its figures stay where they were reported."""
    ensure_open(measure.project.year)
    if measure.is_retired:
        raise SetupError(f"{measure.name} is already retired")
    _update(
        "output_measure",
        measure,
        {"retired_at": utcnow()},
        f"Retired measure {measure.name} of {measure.project.name}",
        by,
    )


# -- reading ------------------------------------------------------------------------------------


def year_projects(year: FinancialYear) -> list[Project]:
    """The year's projects by organisation and name, with their measures: two queries."""
    return list(
        db.session.scalars(
            select(Project)
            .where(Project.year_id == year.id)
            .join(Project.organisation)
            .options(
                joinedload(Project.organisation),
                joinedload(Project.funding_stream),
                joinedload(Project.priority),
                selectinload(Project.measures),
            )
            .order_by(Organisation.name, Project.name)
        ).unique()
    )


def stream_allocations(year: FinancialYear) -> list[Allocation]:
    """Each stream of the year with what its projects are awarded: two queries."""
    awarded = dict(
        db.session.execute(
            select(Project.funding_stream_id, func.sum(Project.amount_pence))
            .where(Project.year_id == year.id)
            .group_by(Project.funding_stream_id)
        ).all()
    )
    streams = db.session.scalars(
        select(FundingStream).where(FundingStream.year_id == year.id).order_by(FundingStream.name)
    )
    return [Allocation(stream, int(awarded.get(stream.id) or 0)) for stream in streams]


def organisation(organisation_id: int) -> Organisation:
    found = db.session.get(Organisation, organisation_id)
    if found is None:
        raise SetupError("Select the organisation", "organisation")
    return found


# -- rolling a year over into the next --------------------------------------------------------------


@dataclass(frozen=True)
class RollOver:
    """What starting the next year from this one copies: the streams, priorities, projects and their measures
    (not retired ones). Returns, payments, variations, schedules and ratings stay with this year."""

    year: FinancialYear
    streams: list[FundingStream]
    priorities: list[Priority]
    year_projects: list[Project]
    next_exists: bool

    @property
    def projects(self) -> list[Project]:
        """The projects copied: those of organisations still funded."""
        return [project for project in self.year_projects if not project.organisation.is_retired]

    @property
    def next_start(self) -> int:
        return self.year.start_year + 1

    @property
    def next_label(self) -> str:
        return year_label(self.next_start)

    @property
    def retired_measures(self) -> list[OutputMeasure]:
        return [measure for project in self.projects for measure in project.measures if measure.is_retired]

    @property
    def measure_count(self) -> int:
        return sum(len(project.measures_in()) for project in self.projects)

    @property
    def left_out_projects(self) -> list[Project]:
        """Projects of a retired organisation: it is funded no more, so they are not copied."""
        return [project for project in self.year_projects if project.organisation.is_retired]


def roll_over_plan(year: FinancialYear) -> RollOver:
    next_start = year.start_year + 1
    exists = db.session.scalar(select(FinancialYear.id).where(FinancialYear.start_year == next_start)) is not None
    return RollOver(
        year=year,
        streams=[item.stream for item in stream_allocations(year)],
        priorities=_year_priorities(year),
        year_projects=year_projects(year),
        next_exists=exists,
    )


def _copy_measures(source: Project, project: Project, by: User | None) -> None:
    for position, measure in enumerate(source.measures_in()):
        fields = MeasureFields(
            name=measure.name,
            unit=measure.unit,
            definition=measure.definition,
            combine=measure.combine,
            decimals=measure.decimals,
            annual_target=measure.annual_target,
            quarterly_targets=measure.quarterly_targets,
            counts_people=measure.counts_people,
        )
        summary = f"Rolled over measure {measure.name} of {project.name}"
        _create("output_measure", OutputMeasure(project=project, position=position), fields.values(), summary, by)


def _copy_projects(plan: RollOver, year: FinancialYear, streams: dict[int, FundingStream], by: User | None) -> None:
    priorities = {priority.name: priority for priority in _year_priorities(year)}
    for source in plan.projects:
        fields = ProjectFields(
            name=source.name,
            funding_stream=streams[source.funding_stream_id],
            priority=priorities.get(source.priority.name) if source.priority else None,
            amount_pence=source.amount_pence,
            actions=list(source.actions or []),
            description=source.description,
            spend_profile=source.spend_profile,
        )
        project = Project(year=year, organisation_id=source.organisation_id)
        summary = f"Rolled over {source.organisation.short_name}: {source.name} {format_pence(source.amount_pence)}"
        _create("project", project, {**fields.values(), "amount_pence": fields.amount_pence}, summary, by)
        _copy_measures(source, project, by)


def roll_over(year: FinancialYear, *, by: User | None) -> FinancialYear:
    """Start the next year from this one (see RollOver); refused when the next year is already set up."""
    plan = roll_over_plan(year)
    if plan.next_exists:
        raise SetupError(f"{plan.next_label} is already set up: change it on its own set-up pages")
    created = create_year(plan.next_start, return_due_days=year.return_due_days, by=by)
    streams = {
        stream.id: create_stream(
            created, name=stream.name, funder=stream.funder, amount_pence=stream.amount_pence, by=by
        )
        for stream in plan.streams
    }
    for priority in plan.priorities:
        create_priority(created, name=priority.name, rank=None, by=by)
    _copy_projects(plan, created, streams, by)
    audit.record(
        "financial_year.rolled_over",
        object_type="financial_year",
        object_id=created.id,
        summary=f"Started {created.label} from {year.label}",
        actor=by,
        details={
            "from": year.label,
            "streams": len(plan.streams),
            "priorities": len(plan.priorities),
            "projects": len(plan.projects),
            "measures": plan.measure_count,
            "projects_of_retired_organisations_left_out": [project.id for project in plan.left_out_projects],
            "retired_measures_left_out": [measure.id for measure in plan.retired_measures],
        },
    )
    return created
