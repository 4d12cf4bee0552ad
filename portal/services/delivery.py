"""Budget against delivery: every definition the CSU pages, exports and reports use, in one place.

- A quarter is *reported* when its return is submitted or approved; a submitted one is *provisional*.
- A quarter is *due* once its return's due date (the CSU's extension, when there is one) has passed:
  after 23:59:59 UK time that day. A quarter whose return the CSU marked not required is never due.
  A due quarter that is not reported is *missing* (its tag says Overdue).
- The quarters *to date* are those that are due or reported.
- A measure's *total*: the sum of its reported quarters (combine "sum"), or the latest reported
  quarter's value (combine "latest"). *pct_of_target*: total ÷ annual target × 100, one decimal;
  empty without a target.
- *Target to date* of a "sum" measure with a target: the sum of its quarterly targets, or of the
  annual target ÷ 4 per quarter when it has no quarterly targets, over the quarters to date.
- *Delivered to date*: the sum of the reported quarters' values; a missing quarter adds nothing.
- A project's *delivery to date*: the mean, over its "sum" measures with a target to date, of
  delivered to date ÷ target to date, × 100, one decimal; empty while no measure has a target to date.
  A retired measure is no longer reported, so it is left out (its figures stay in the tables).
- *Delivery RAG*: Green at `GREEN_FROM` or more, Amber at `AMBER_FROM` or more, otherwise Red (on the
  one-decimal figure); none without a delivery figure.
- *Reported spend*: the sum of spend over reported quarters; *spend_pct_of_award*: reported spend ÷
  award × 100, one decimal.
- *Profile to date*: the project's quarterly spend profile (award ÷ 4 per quarter when it has none)
  summed over the quarters to date, to the nearest penny. *spend_pct_of_profile*: reported spend ÷
  profile to date × 100, one decimal; empty while the profile to date is zero.
- *Spend RAG*: Red when reported spend is above the award; otherwise Green from `SPEND_GREEN_FROM`
  to `SPEND_GREEN_TO`, Amber from `SPEND_AMBER_FROM` to `SPEND_AMBER_TO` (inclusive), otherwise
  Red; none while spend_pct_of_profile is empty.

The thresholds and words live in `models/vocabulary.py`. All arithmetic is Decimal; rounding is half-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeGuard

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ..calendar import Quarter, uk_today
from ..extensions import db
from ..models import CsuRating, FinancialYear, MeasureValue, MonitoringReturn, Project, ReturnArrangement
from ..models.monitoring_return import status_is_provisional, status_is_reported
from ..models.project import OutputMeasure
from ..models.summary import quarter_word
from ..models.types import utcnow
from ..models.vocabulary import (
    AMBER,
    AMBER_FROM,
    CHANGES_REQUESTED,
    COMBINE_LATEST,
    COMBINE_SUM,
    GREEN,
    GREEN_FROM,
    NOT_STARTED,
    QUARTERS,
    RED,
    SPEND_AMBER_FROM,
    SPEND_AMBER_TO,
    SPEND_GREEN_FROM,
    SPEND_GREEN_TO,
    STATUS_LABELS,
)
from .figures import paid_by_project

ONE_PLACE = Decimal("0.1")
PENNY = Decimal(1)


def one_decimal(value: Decimal) -> Decimal:
    return value.quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


def percentage(part: Decimal | int, whole: Decimal | int | None) -> Decimal | None:
    if not whole:
        return None
    return one_decimal(Decimal(part) * 100 / Decimal(whole))


def delivery_rag(delivery_pct: Decimal | None) -> str | None:
    if delivery_pct is None:
        return None
    if delivery_pct >= GREEN_FROM:
        return GREEN
    if delivery_pct >= AMBER_FROM:
        return AMBER
    return RED


def spend_rag(pct_of_profile: Decimal | None, *, spend_pence: int, award_pence: int) -> str | None:
    """Red above the award whatever the profile; otherwise by the % of the profile to date."""
    if spend_pence > award_pence:
        return RED
    if pct_of_profile is None:
        return None
    if SPEND_GREEN_FROM <= pct_of_profile <= SPEND_GREEN_TO:
        return GREEN
    if SPEND_AMBER_FROM <= pct_of_profile <= SPEND_AMBER_TO:
        return AMBER
    return RED


def is_reported(mreturn: MonitoringReturn | None) -> TypeGuard[MonitoringReturn]:
    return mreturn is not None and mreturn.is_reported


@dataclass
class QuarterState:
    """One quarter of a project as the partner's home shows it."""

    number: int
    status: str
    due: date  # the CSU's extended date when there is one
    overdue: bool
    open: bool
    return_id: int | None = None
    comment: str | None = None  # the CSU's request for changes, while it stands
    extended: bool = False
    not_required: bool = False

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class MeasureFigures:
    measure: OutputMeasure
    quarters: list[Decimal | None]  # reported value per quarter (None when not reported)
    provisional: list[bool]  # per quarter: reported by a submitted, not yet approved, return

    @property
    def total(self) -> Decimal | None:
        reported = [value for value in self.quarters if value is not None]
        if not reported:
            return None
        if self.measure.combine == COMBINE_LATEST:
            return reported[-1]
        return sum(reported, Decimal(0))

    @property
    def pct_of_target(self) -> Decimal | None:
        total = self.total
        if total is None or not self.measure.annual_target:
            return None
        return percentage(total, self.measure.annual_target)

    @property
    def delivered_to_date(self) -> Decimal:
        """What the reported quarters add up to; a quarter not reported adds nothing."""
        return sum((value for value in self.quarters if value is not None), Decimal(0))

    @property
    def provisional_quarters(self) -> list[int]:
        """The quarters whose figure comes from a submitted, not yet approved, return."""
        return [q for q in QUARTERS if self.provisional[q - 1] and self.quarters[q - 1] is not None]

    def target_to_date(self, quarters: list[int]) -> Decimal | None:
        """The target over the given quarters (those to date); None when the measure has no target."""
        quarterly = self.measure.quarterly_targets
        if any(target is not None for target in quarterly):
            return sum((quarterly[q - 1] or Decimal(0) for q in quarters), Decimal(0))
        if self.measure.annual_target is None:
            return None
        return Decimal(self.measure.annual_target) * len(quarters) / 4


@dataclass
class ProjectDelivery:
    project: Project
    returns: dict[int, MonitoringReturn]
    measures: list[MeasureFigures]
    paid_pence: int = 0
    csu_ratings: dict[int, CsuRating] = field(default_factory=dict)
    arrangements: dict[int, ReturnArrangement] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)

    # -- quarters: reported, due, missing ------------------------------------------------------

    def quarter(self, quarter: int) -> Quarter:
        """The quarter with its due date as it stands: the CSU's extension when there is one."""
        arrangement = self.arrangements.get(quarter)
        return self.project.year.quarter(quarter).due_on(arrangement.due_on if arrangement else None)

    def is_extended(self, quarter: int) -> bool:
        arrangement = self.arrangements.get(quarter)
        return arrangement is not None and arrangement.due_on is not None

    def is_not_required(self, quarter: int) -> bool:
        arrangement = self.arrangements.get(quarter)
        return arrangement is not None and arrangement.not_required

    def is_reported(self, quarter: int) -> bool:
        return is_reported(self.returns.get(quarter))

    def is_due(self, quarter: int) -> bool:
        """Its due date has passed (UK time), and the CSU has not marked the return not required."""
        return not self.is_not_required(quarter) and self.quarter(quarter).is_overdue(self.now)

    def is_overdue(self, quarter: int) -> bool:
        return self.is_due(quarter) and not self.is_reported(quarter)

    @property
    def reported_quarters(self) -> list[int]:
        return [q for q in QUARTERS if self.is_reported(q)]

    @property
    def quarters_to_date(self) -> list[int]:
        """The quarters that are due or reported: the ones targets and the profile are counted over."""
        return [q for q in QUARTERS if self.is_due(q) or self.is_reported(q)]

    @property
    def missing_quarters(self) -> list[int]:
        """Due and not reported: counted as nothing delivered."""
        return [q for q in QUARTERS if self.is_overdue(q)]

    @property
    def has_provisional(self) -> bool:
        return any(self.is_provisional(q) for q in self.reported_quarters)

    def is_provisional(self, quarter: int) -> bool:
        mreturn = self.returns.get(quarter)
        return mreturn is not None and mreturn.is_provisional

    # -- spend ---------------------------------------------------------------------------------

    @property
    def reported_spend_pence(self) -> int:
        return sum(self.returns[q].spend_pence or 0 for q in self.reported_quarters)

    @property
    def spend_pct_of_award(self) -> Decimal | None:
        return percentage(self.reported_spend_pence, self.project.amount_pence)

    def spend_in(self, quarter: int) -> int | None:
        mreturn = self.returns.get(quarter)
        return mreturn.spend_pence if is_reported(mreturn) else None

    @property
    def has_own_profile(self) -> bool:
        return self.project.spend_profile is not None

    def _profile_in(self, quarter: int) -> Decimal:
        return self.project.planned_spend_in(quarter)

    def _profile_over(self, quarters: list[int]) -> int:
        return int(sum((self._profile_in(q) for q in quarters), Decimal(0)).quantize(PENNY, rounding=ROUND_HALF_UP))

    def profile_in(self, quarter: int) -> int:
        """The planned spend in one quarter, in pence."""
        return self._profile_over([quarter])

    def profile_to(self, quarter: int) -> int:
        """The planned spend to the end of a quarter, in pence."""
        return self._profile_over(list(range(1, quarter + 1)))

    @property
    def profile_to_date_pence(self) -> int:
        return self._profile_over(self.quarters_to_date)

    @property
    def spend_pct_of_profile(self) -> Decimal | None:
        return percentage(self.reported_spend_pence, self.profile_to_date_pence)

    @property
    def spend_rag(self) -> str | None:
        return spend_rag(
            self.spend_pct_of_profile, spend_pence=self.reported_spend_pence, award_pence=self.project.amount_pence
        )

    # -- delivery and ratings ------------------------------------------------------------------

    @property
    def delivery_pct(self) -> Decimal | None:
        to_date = self.quarters_to_date
        ratios = []
        for figures in self.measures:
            if figures.measure.combine != COMBINE_SUM or figures.measure.is_retired:
                continue
            target = figures.target_to_date(to_date)
            if not target:
                continue
            ratios.append(figures.delivered_to_date / target)
        if not ratios:
            return None
        return one_decimal(sum(ratios, Decimal(0)) / len(ratios) * 100)

    @property
    def delivery_rag(self) -> str | None:
        return delivery_rag(self.delivery_pct)

    @property
    def partner_rag(self) -> str | None:
        """The rating in the latest reported return."""
        for quarter in reversed(self.reported_quarters):
            if self.returns[quarter].partner_rag:
                return self.returns[quarter].partner_rag
        return None

    @property
    def csu_rating(self) -> CsuRating | None:
        """The CSU's rating for the latest quarter it rated."""
        return self.csu_ratings[max(self.csu_ratings)] if self.csu_ratings else None

    @property
    def csu_rag(self) -> str | None:
        rating = self.csu_rating
        return rating.rag if rating else None

    # -- each quarter's status, as its tags show it ----------------------------------------------

    def status(self, quarter: int) -> str:
        mreturn = self.returns.get(quarter)
        return mreturn.status if mreturn else NOT_STARTED

    def status_label(self, quarter: int) -> str:
        return STATUS_LABELS[self.status(quarter)]

    def status_word(self, quarter: int) -> str:
        """The one word that sums up a quarter, as its tags show it (models/summary.py `quarter_word`)."""
        return quarter_word(
            self.status(quarter),
            reported=self.is_reported(quarter),
            not_required=self.is_not_required(quarter),
            overdue=self.is_overdue(quarter),
            open=self.is_open(quarter),
        )

    def is_open(self, quarter: int) -> bool:
        return self.project.year.quarter(quarter).has_started(uk_today(self.now))

    @property
    def quarter_states(self) -> list[QuarterState]:
        states = []
        for number in QUARTERS:
            mreturn = self.returns.get(number)
            states.append(
                QuarterState(
                    number=number,
                    status=self.status(number),
                    due=self.quarter(number).due,
                    overdue=self.is_overdue(number),
                    open=self.is_open(number),
                    return_id=mreturn.id if mreturn else None,
                    comment=mreturn.review_comment if mreturn and mreturn.status == CHANGES_REQUESTED else None,
                    extended=self.is_extended(number),
                    not_required=self.is_not_required(number) and not self.is_reported(number),
                )
            )
        return states


# Children are loaded with one query each, however many parents (selectinload would batch by 500).


def _delivery_projects(
    year: FinancialYear, project_ids: list[int] | None, organisation_id: int | None
) -> list[Project]:
    query = (
        select(Project)
        .where(Project.year_id == year.id)
        .options(
            joinedload(Project.organisation),
            joinedload(Project.priority),
            joinedload(Project.funding_stream),
            joinedload(Project.year),
        )
        .order_by(Project.id)
    )
    if project_ids is not None:
        query = query.where(Project.id.in_(project_ids))
    if organisation_id is not None:
        query = query.where(Project.organisation_id == organisation_id)
    return list(db.session.scalars(query).unique())


def _attach_measures(projects: list[Project]) -> None:
    """Set each project's measures, in position order, from one query."""
    ids = [project.id for project in projects]
    by_project: dict[int, list[OutputMeasure]] = {project_id: [] for project_id in ids}
    if ids:
        for measure in db.session.scalars(
            select(OutputMeasure).where(OutputMeasure.project_id.in_(ids)).order_by(OutputMeasure.position)
        ):
            by_project[measure.project_id].append(measure)
    for project in projects:
        set_committed_value(project, "measures", by_project[project.id])


def _returns_by_project(ids: list[int]) -> dict[int, dict[int, MonitoringReturn]]:
    """Each project's returns by quarter, their measure values set on them: two queries."""
    returns: dict[int, dict[int, MonitoringReturn]] = {}
    if not ids:
        return returns
    values: dict[int, list[MeasureValue]] = {}
    for mreturn in db.session.scalars(select(MonitoringReturn).where(MonitoringReturn.project_id.in_(ids))):
        returns.setdefault(mreturn.project_id, {})[mreturn.quarter] = mreturn
        values[mreturn.id] = []
    for value in db.session.scalars(
        select(MeasureValue).join(MonitoringReturn).where(MonitoringReturn.project_id.in_(ids))
    ):
        values[value.return_id].append(value)
    for by_quarter in returns.values():
        for mreturn in by_quarter.values():
            set_committed_value(mreturn, "values", values[mreturn.id])
    return returns


def _ratings_by_project(ids: list[int]) -> dict[int, dict[int, CsuRating]]:
    """Each project's CSU ratings by quarter: one query."""
    ratings: dict[int, dict[int, CsuRating]] = {}
    if ids:
        for rating in db.session.scalars(select(CsuRating).where(CsuRating.project_id.in_(ids))):
            ratings.setdefault(rating.project_id, {})[rating.quarter] = rating
    return ratings


def arrangements_by_project(ids: list[int]) -> dict[int, dict[int, ReturnArrangement]]:
    """Each project's extensions and waivers by quarter: one query."""
    arrangements: dict[int, dict[int, ReturnArrangement]] = {}
    if ids:
        for arrangement in db.session.scalars(select(ReturnArrangement).where(ReturnArrangement.project_id.in_(ids))):
            arrangements.setdefault(arrangement.project_id, {})[arrangement.quarter] = arrangement
    return arrangements


def measure_figures(measure: OutputMeasure, by_quarter: dict[int, tuple[str, Decimal | None]]) -> MeasureFigures:
    """A measure's value in each reported quarter, and which of those are provisional, from each quarter's return
    status and the value that return holds for the measure (a quarter without a return is missing)."""
    quarters: list[Decimal | None] = []
    provisional: list[bool] = []
    for quarter in QUARTERS:
        status, value = by_quarter.get(quarter, (None, None))
        quarters.append(value if status_is_reported(status) else None)
        provisional.append(status_is_provisional(status))
    return MeasureFigures(measure, quarters, provisional)


def _measure_figures(measure: OutputMeasure, returns: dict[int, MonitoringReturn]) -> MeasureFigures:
    return measure_figures(
        measure, {quarter: (mreturn.status, mreturn.value_of(measure.id)) for quarter, mreturn in returns.items()}
    )


@dataclass
class ProjectFigures:
    """A project's returns by quarter and its measures' figures: what a report of its outputs needs."""

    project: Project
    returns: dict[int, MonitoringReturn]
    measures: list[MeasureFigures]


def projects_figures(projects: list[Project]) -> list[ProjectFigures]:
    """The returns and measure figures of the given projects (loaded with their organisation, stream and year), in
    their order: three queries, however many."""
    _attach_measures(projects)
    returns = _returns_by_project([project.id for project in projects])
    found = []
    for project in projects:
        by_quarter = returns.get(project.id, {})
        found.append(
            ProjectFigures(project, by_quarter, [_measure_figures(measure, by_quarter) for measure in project.measures])
        )
    return found


def year_delivery(
    year: FinancialYear,
    *,
    project_ids: list[int] | None = None,
    organisation_id: int | None = None,
    now: datetime | None = None,
) -> list[ProjectDelivery]:
    """Budget against delivery for every project of a year (or the given ones): eight queries, however many."""
    return _deliveries(_delivery_projects(year, project_ids, organisation_id), now or utcnow())


def _deliveries(projects: list[Project], now: datetime, paid: dict[int, int] | None = None) -> list[ProjectDelivery]:
    ids = [project.id for project in projects]
    figures = projects_figures(projects)
    ratings = _ratings_by_project(ids)
    arrangements = arrangements_by_project(ids)
    paid = paid_by_project(ids) if paid is None else paid
    return [
        ProjectDelivery(
            project=found.project,
            returns=found.returns,
            measures=found.measures,
            paid_pence=paid.get(found.project.id, 0),
            csu_ratings=ratings.get(found.project.id, {}),
            arrangements=arrangements.get(found.project.id, {}),
            now=now,
        )
        for found in figures
    ]


def project_delivery(
    project: Project, *, now: datetime | None = None, paid_pence: int | None = None
) -> ProjectDelivery:
    """One project's figures, from the project as the request loaded it (auth/loaders.load_project): not read again.
    `paid_pence`: *Paid* as a page already summed it from the project's payments (its ledger), not summed again."""
    paid = None if paid_pence is None else {project.id: paid_pence}
    return _deliveries([project], now or utcnow(), paid)[0]
