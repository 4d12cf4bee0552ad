"""The quarterly return's rules: drafts that are never silently overwritten, idempotent submits,
immutable revisions, and the CSU's review. Services flush; the view commits once."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import Select, func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload, load_only, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..calendar import uk_time, uk_today
from ..extensions import db
from ..models import (
    AuditEvent,
    FinancialYear,
    MeasureValue,
    MonitoringReturn,
    Organisation,
    OutputMeasure,
    Project,
    ReturnRevision,
    User,
)
from ..models.types import utcnow
from ..models.vocabulary import (
    ANSWER_LABELS,
    APPROVED,
    AUDIT_REASON_GIVEN,
    AUTOSAVE_AUDIT_MINUTES,
    CHANGES_REQUESTED,
    COMBINE_LATEST,
    COMPLETED,
    DRAFT,
    EDITABLE_STATUSES,
    IN_PROGRESS,
    NARRATIVE_FIELDS,
    RATING_LABEL,
    SECTION_NOT_STARTED,
    SECTIONS,
    SELECT_A_RATING,
    SELECT_RAG,
    SPEND_LABEL,
    SUBMITTED,
    rag_label,
)
from ..money import format_pence
from ..pagination import PageOf
from ..quantities import QuantityError, format_quantity, parse_quantity
from . import audit, notifications
from .personal_data import LABELS as PERSONAL_DATA_LABELS
from .personal_data import Finding, findings_for

# The one list of what a return needs: Save and continue checks a section's answers against it, and
# the overview and Check your answers list what is still blank. By the answer's name on its page:
# (section, message beside the field, message in the list of answers still needed). Every output
# measure is needed too ("Enter referrals"). The spend's explanation is needed only when the spend is
# far from the profile, and the message beside it (None here) says why.
REQUIRED_ANSWERS: dict[str, tuple[str, str | None, str]] = {
    "spend": ("spend", "Enter the spend in the quarter, like 2500.00", "Enter the spend in the quarter"),
    "spend_explanation": ("spend", None, "Explain the spend to date"),
    "progress": ("narrative", "Enter the progress this quarter", "Enter the progress this quarter"),
    "partner_rag": ("narrative", SELECT_RAG, SELECT_A_RATING),
    "partner_rag_reason": ("narrative", "Enter the reason for your rating", "Enter the reason for your rating"),
}


class ReturnError(Exception):
    """A change the return's state does not allow; the message is for the person."""


class ReturnConflict(ReturnError):
    """The form was based on an older version than the one saved: `current` is the return as saved now,
    `differences` its answers that differ from those posted."""

    def __init__(self, current: MonitoringReturn | None, differences: list[str], message: str | None = None):
        who = current.updated_by.name or current.updated_by.email if current and current.updated_by else "Someone"
        when = f" at {uk_time(current.updated_at)}" if current is not None else ""
        listed = "; ".join(differences) if differences else "no answer you typed"
        super().__init__(
            message
            or f"Your changes have not been saved. {who} saved this return{when} after you opened it. "
            f"Saved answers that differ from yours: {listed}. Your answers are still below: "
            "check them, then save again to keep them."
        )
        self.current = current
        self.differences = differences


@dataclass(frozen=True)
class Unanswered:
    """A required answer still blank: where it is, the message beside it, and the one in the list."""

    section: str
    name: str
    message: str
    summary: str


@dataclass
class SubmitResult:
    monitoring_return: MonitoringReturn
    revision: ReturnRevision
    created: bool


# -- reading ------------------------------------------------------------------------------------


def find_return(project: Project, quarter: int, *, revisions: bool = True) -> MonitoringReturn | None:
    """The project's return for the quarter with its values, and its submissions unless `revisions` is False (a
    section page or a save reads none of them: each holds a whole copy of the answers)."""
    children = [selectinload(MonitoringReturn.values)]
    if revisions:
        children.append(selectinload(MonitoringReturn.revisions))
    return db.session.scalar(
        select(MonitoringReturn)
        .where(MonitoringReturn.project_id == project.id, MonitoringReturn.quarter == quarter)
        .options(*children)
    )


def previous_return(
    project: Project, quarter: int, earlier: list[MonitoringReturn] | None = None
) -> MonitoringReturn | None:
    """Last quarter's return of the same project, shown for reference (its figures: not its submissions), from
    `earlier` (earlier_returns) when the page has read them already."""
    if quarter == 1:
        return None
    if earlier is not None:
        return next((mreturn for mreturn in earlier if mreturn.quarter == quarter - 1), None)
    return find_return(project, quarter - 1, revisions=False)


def earlier_returns(project: Project, quarter: int) -> list[MonitoringReturn]:
    """The project's returns of the quarters before this one, whatever their state, with their figures, in quarter
    order: read once for a page that shows last quarter's and the year to date (the CSU's review)."""
    return list(
        db.session.scalars(
            select(MonitoringReturn)
            .where(MonitoringReturn.project_id == project.id, MonitoringReturn.quarter < quarter)
            .options(selectinload(MonitoringReturn.values))
            .order_by(MonitoringReturn.quarter)
        )
    )


@dataclass(frozen=True)
class OutputContext:
    """Where a measure stands as the partner fills in a quarter: this quarter's target, last quarter's figure
    and the year to date, with whatever is typed now."""

    measure: OutputMeasure
    quarter: int
    target: Decimal | None  # this quarter's target; else a quarter of the annual one (a level: the annual one)
    target_from_annual: bool
    last_quarter: Decimal | None
    before: Decimal | None  # earlier reported quarters: added up, or the latest of them for a level

    def year_to_date(self, typed: Decimal | None) -> Decimal | None:
        if self.measure.combine == COMBINE_LATEST:
            return typed if typed is not None else self.before
        parts = [value for value in (self.before, typed) if value is not None]
        return sum(parts, Decimal(0)) if parts else None

    def year_to_date_of(self, text: str | None) -> Decimal | None:
        """The year to date with a figure as typed (one that is not a valid figure counts as not typed)."""
        try:
            typed = parse_quantity(text, decimals=self.measure.allows_decimals) if text else None
        except QuantityError:
            typed = None
        return self.year_to_date(typed)


def quarter_target(measure: OutputMeasure, quarter: int) -> tuple[Decimal | None, bool]:
    """(this quarter's target, whether it comes from the annual target): the quarter's own target when set;
    otherwise a quarter of the annual target for a figure that adds up, the annual level for a latest figure."""
    own = measure.quarterly_targets[quarter - 1]
    if own is not None or measure.annual_target is None:
        return own, False
    if measure.combine == COMBINE_LATEST:
        return Decimal(measure.annual_target), True
    return (Decimal(measure.annual_target) / 4).quantize(Decimal("0.01")), True


def output_context(
    project: Project, quarter: int, measures: list[OutputMeasure], earlier: list[MonitoringReturn] | None = None
) -> dict[int, OutputContext]:
    """Each measure's context for the outputs page, from the project's earlier reported quarters (one query, none
    when given `earlier`: earlier_returns)."""
    if earlier is None:
        reported = list(
            db.session.scalars(
                select(MonitoringReturn)
                .where(
                    MonitoringReturn.project_id == project.id,
                    MonitoringReturn.quarter < quarter,
                    MonitoringReturn.is_reported,
                )
                .options(selectinload(MonitoringReturn.values))
                .order_by(MonitoringReturn.quarter)
            )
        )
    else:
        reported = [mreturn for mreturn in earlier if mreturn.quarter < quarter and mreturn.is_reported]
    context = {}
    for measure in measures:
        figures = [(r.quarter, v) for r in reported if (v := r.value_of(measure.id)) is not None]
        if measure.combine == COMBINE_LATEST:
            before = figures[-1][1] if figures else None
        else:
            before = sum((value for _, value in figures), Decimal(0)) if figures else None
        target, from_annual = quarter_target(measure, quarter)
        last = next((value for number, value in figures if number == quarter - 1), None)
        context[measure.id] = OutputContext(measure, quarter, target, from_annual, last, before)
    return context


def quarter_is_open(project: Project, quarter: int) -> bool:
    return project.year.quarter(quarter).has_started(uk_today())


def reported_spend_before(project: Project, quarter: int) -> tuple[int, int]:
    """(spend, number of quarters) over the project's other reported quarters."""
    spend, count = db.session.execute(
        select(func.coalesce(func.sum(MonitoringReturn.spend_pence), 0), func.count()).where(
            MonitoringReturn.project_id == project.id,
            MonitoringReturn.quarter != quarter,
            MonitoringReturn.is_reported,
        )
    ).one()
    return int(spend or 0), int(count)


@dataclass(frozen=True)
class SpendRule:
    """When a quarter's spend needs an explanation: when spend to date (the other reported quarters' and this
    one's) would be more than the award, or further than SPEND_PROFILE_TOLERANCE from the planned spend of those
    quarters (the project's spend profile, or a quarter of the award each). The spend page shows the same
    figures before the partner saves."""

    award_pence: int
    before_pence: int  # spend reported in the project's other quarters
    planned_pence: Decimal  # planned spend over those quarters and this one
    tolerance: Decimal

    @property
    def lowest_to_date(self) -> Decimal:
        return self.planned_pence * (1 - self.tolerance)

    @property
    def highest_to_date(self) -> Decimal:
        return min(Decimal(self.award_pence), self.planned_pence * (1 + self.tolerance))

    @property
    def quarter_range(self) -> tuple[int, int]:
        """This quarter's spend, in whole pence, that needs no explanation (low may exceed high: always asked)."""
        low = max(0, math.ceil(self.lowest_to_date - self.before_pence))
        return low, math.floor(self.highest_to_date - self.before_pence)

    def reason(self, spend_pence: int) -> str | None:
        to_date = self.before_pence + spend_pence
        if to_date > self.award_pence:
            return (
                f"Spend to date would be {format_pence(to_date)}, more than the award of "
                f"{format_pence(self.award_pence)}: explain why"
            )
        if self.planned_pence and abs(Decimal(to_date) - self.planned_pence) > self.planned_pence * self.tolerance:
            return (
                f"Spend to date would be {format_pence(to_date)}, more than {self.tolerance * 100:.0f}% away from "
                f"the expected {format_pence(int(self.planned_pence))} (the plan for the quarters reported): "
                "explain why"
            )
        return None


def spend_rule(project: Project, quarter: int) -> SpendRule:
    others = db.session.execute(
        select(MonitoringReturn.quarter, MonitoringReturn.spend_pence).where(
            MonitoringReturn.project_id == project.id,
            MonitoringReturn.quarter != quarter,
            MonitoringReturn.is_reported,
        )
    ).all()
    planned = sum((project.planned_spend_in(number) for number, _ in others), project.planned_spend_in(quarter))
    return SpendRule(
        award_pence=project.amount_pence,
        before_pence=sum(spend or 0 for _, spend in others),
        planned_pence=planned,
        tolerance=Decimal(str(current_app.config["SPEND_PROFILE_TOLERANCE"])),
    )


def spend_explanation_reason(project: Project, quarter: int, spend_pence: int | None) -> str | None:
    """Why an explanation is needed for this spend, or None when it is not."""
    return None if spend_pence is None else spend_rule(project, quarter).reason(spend_pence)


def return_measures(project: Project, mreturn: MonitoringReturn | None) -> list[OutputMeasure]:
    """The measures a return asks for: a retired measure is left out of every return not yet submitted, and
    shown in a submitted or approved one only where it holds a figure."""
    if mreturn is None or not mreturn.is_reported:
        return project.measures_in()
    return project.measures_in({value.measure_id for value in mreturn.values if value.value is not None})


def saved_answers(mreturn: MonitoringReturn | None) -> dict[str, object]:
    """The return's answers by their names on its pages: "m<id>" for an output, "spend" in pence."""
    if mreturn is None:
        return {}
    answers: dict[str, object] = {f"m{value.measure_id}": value.value for value in mreturn.values}
    answers["spend"] = mreturn.spend_pence
    answers.update({name: getattr(mreturn, name) for name in (*NARRATIVE_FIELDS, "partner_rag")})
    return answers


def _blank(answer: object) -> bool:
    return answer is None or answer == ""


def unanswered(
    project: Project, quarter: int | None, answers: Mapping[str, object], section: str | None = None
) -> list[Unanswered]:
    """Every required answer still blank, in page order: for Save and continue on one section's page
    (answers as posted), or for the whole return before it is submitted (answers as saved)."""
    outputs = {
        f"m{m.id}": ("outputs", f"Enter {m.name.lower()}", f"Enter {m.name.lower()}") for m in project.measures_in()
    }
    found = []
    for name, (in_section, message, summary) in {**outputs, **REQUIRED_ANSWERS}.items():
        if section not in (None, in_section) or not _blank(answers.get(name)):
            continue
        if message is None:  # the spend's explanation: needed only when the spend is far from the profile
            spend = answers.get("spend")
            if not isinstance(spend, int) or quarter is None:
                continue
            message = spend_explanation_reason(project, quarter, spend)
            if message is None:
                continue
        found.append(Unanswered(in_section, name, message, summary))
    return found


def section_states(
    project: Project, mreturn: MonitoringReturn | None, missing: list[tuple[str, str]] | None = None
) -> dict[str, str]:
    """Each section of the return's task list: Completed, In progress or Not started (`missing`: the return's
    missing_answers, when the page has them already)."""
    if missing is None:
        missing = missing_answers(project, mreturn)
    unfinished = {section for section, _ in missing}
    states = {}
    for section in SECTIONS:
        if section not in unfinished:
            states[section] = COMPLETED
        elif mreturn is not None and _section_started(section, mreturn):
            states[section] = IN_PROGRESS
        else:
            states[section] = SECTION_NOT_STARTED
    return states


def _section_started(section: str, mreturn: MonitoringReturn) -> bool:
    if section == "outputs":
        return any(value.value is not None for value in mreturn.values)
    if section == "spend":
        return mreturn.spend_pence is not None
    return any(getattr(mreturn, name) for name in ("progress", "case_study", "challenges", "partner_rag"))


def missing_answers(project: Project, mreturn: MonitoringReturn | None) -> list[tuple[str, str]]:
    """(section, message) for every answer still needed before the return can be submitted."""
    quarter = mreturn.quarter if mreturn else None
    return [(item.section, item.summary) for item in unanswered(project, quarter, saved_answers(mreturn))]


# -- saving drafts ------------------------------------------------------------------------------


class _NotLoaded:
    """No return passed in: the service finds it."""


NOT_LOADED = _NotLoaded()
# The return as the request already loaded it (None: there is none yet), or NOT_LOADED for the service to find it.
# Passing it saves reading it again: a concurrent change is still caught, by the version in the UPDATE's WHERE.
Loaded = MonitoringReturn | None | _NotLoaded


def _editable_return(
    project: Project,
    quarter: int,
    version: int,
    by,
    editor: str | None,
    posted: Mapping[str, object],
    current: Loaded = NOT_LOADED,
) -> MonitoringReturn:
    """The draft to change, created on the first save; refuses a locked return, and a stale version
    with the saved answers that differ from those posted."""
    if project.year.is_closed:
        raise ReturnError(f"The {project.year.label} financial year is closed: returns can no longer be changed")
    if not quarter_is_open(project, quarter):
        raise ReturnError(f"Q{quarter} has not started yet: you can fill in its return from its first day")
    mreturn = find_return(project, quarter) if isinstance(current, _NotLoaded) else current
    if mreturn is None:
        if version != 0:
            raise _stale(project, None, posted)
        mreturn = MonitoringReturn(project=project, quarter=quarter, status=DRAFT, values=[], last_editor=editor)
        db.session.add(mreturn)
        return mreturn
    if mreturn.status == SUBMITTED:
        raise ReturnError("This return has been submitted: it cannot be changed unless the CSU asks for changes")
    if mreturn.status == APPROVED:
        raise ReturnError("This return has been approved: the CSU must reopen it before it can be changed")
    if mreturn.version != version and not _same_page(mreturn, editor, by):
        raise _stale(project, mreturn, posted)
    mreturn.last_editor = editor
    return mreturn


def _same_page(mreturn: MonitoringReturn, editor: str | None, by) -> bool:
    """A newer version saved by this very page (its own autosave racing a button press) is no conflict:
    what the page sends now is the latest of what its person typed."""
    return bool(editor) and mreturn.last_editor == editor and mreturn.updated_by_id == by.id


def _stale(project: Project, current: MonitoringReturn | None, posted: Mapping[str, object]) -> ReturnConflict:
    return ReturnConflict(current, differences(project, current, posted))


def _flush(project: Project, quarter: int, mreturn: MonitoringReturn, by, posted: Mapping[str, object]) -> None:
    try:
        if inspect(mreturn).persistent:
            _update_draft(mreturn, by)
        else:  # a new draft: one INSERT (a second one for the quarter breaks the unique constraint)
            with db.session.no_autoflush:
                mreturn.updated_at, mreturn.updated_by_id = utcnow(), by.id
        db.session.flush()  # the new draft, or the measure values
    except (StaleDataError, IntegrityError) as error:
        # Another save won the race between our read and our write: say what it saved.
        db.session.rollback()
        raise _stale(project, find_return(project, quarter), posted) from error


def _update_draft(mreturn: MonitoringReturn, by) -> None:
    """Save the draft's own answers in one UPDATE whose WHERE checks all that may have changed since the return was
    read: its version (optimistic locking), that it is still editable, and that its project is this person's to
    fill in. No row changed: StaleDataError, as the ORM's own version check would raise. The version moves on even
    when only measure values changed."""
    state = inspect(mreturn)
    values: dict[str, object] = {}
    for column in state.mapper.column_attrs:
        if added := list(state.attrs[column.key].history.added):
            values[column.key] = added[0]  # an answer set on the draft since it was read
    with db.session.no_autoflush:  # the ORM must not write the row first (reading `by`'s roles, say)
        values.update(updated_at=utcnow(), updated_by_id=by.id, version=mreturn.version + 1)
        saved = db.session.execute(
            update(MonitoringReturn)
            .where(
                MonitoringReturn.id == mreturn.id,
                MonitoringReturn.version == mreturn.version,
                MonitoringReturn.status.in_(EDITABLE_STATUSES),
                MonitoringReturn.project_id.in_(select(Project.id).where(Project.returns_editable_by(by))),
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
    if saved.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result has a row count
        raise StaleDataError("The draft changed, or is no longer this person's to change, since it was read")
    for key, value in values.items():  # the object as saved, with nothing left for the ORM to write
        set_committed_value(mreturn, key, value)


def _describe(value) -> str:
    if value is None or value == "":
        return "blank"
    if isinstance(value, Decimal):
        return format_quantity(value)
    return str(value)


def save_outputs(
    project: Project,
    quarter: int,
    values: dict[int, Decimal | None],
    *,
    version: int,
    by,
    editor: str | None = None,
    autosave: bool = False,
    current: Loaded = NOT_LOADED,
):
    posted = {f"m{measure_id}": value for measure_id, value in values.items()}
    mreturn = _editable_return(project, quarter, version, by, editor, posted, current)
    existing = {value.measure_id: value for value in mreturn.values}
    changes = {}
    for measure in project.measures:
        if measure.id not in values:
            continue
        new = values[measure.id]
        row = existing.get(measure.id)
        before = row.value if row else None
        if before != new:
            changes[measure.name] = [_describe(before), _describe(new)]
        if row is None:
            mreturn.values.append(MeasureValue(measure=measure, value=new))
        else:
            row.value = new
    _flush(project, quarter, mreturn, by, posted)
    _audit_save(mreturn, "outputs", changes, by, autosave)
    return mreturn


def save_spend(
    project: Project,
    quarter: int,
    spend_pence: int | None,
    explanation: str | None,
    *,
    version: int,
    by,
    editor: str | None = None,
    autosave: bool = False,
    current: Loaded = NOT_LOADED,
):
    posted = {"spend": spend_pence, "spend_explanation": explanation}
    mreturn = _editable_return(project, quarter, version, by, editor, posted, current)
    changes = {}
    if mreturn.spend_pence != spend_pence:
        changes[SPEND_LABEL] = [
            format_pence(mreturn.spend_pence) or "blank",
            format_pence(spend_pence) or "blank",
        ]
    if (mreturn.spend_explanation or None) != (explanation or None):
        changes["Explanation of spend"] = ["changed", "changed"]
    mreturn.spend_pence = spend_pence
    mreturn.spend_explanation = explanation or None
    _flush(project, quarter, mreturn, by, posted)
    _audit_save(mreturn, "spend", changes, by, autosave)
    return mreturn


def save_narrative(
    project: Project,
    quarter: int,
    answers: dict[str, str | None],
    *,
    version: int,
    by,
    editor: str | None = None,
    autosave: bool = False,
    current: Loaded = NOT_LOADED,
):
    mreturn = _editable_return(project, quarter, version, by, editor, answers, current)
    changes = {}
    for name in ("progress", "case_study", "challenges", "partner_rag", "partner_rag_reason"):
        if name not in answers:
            continue
        new = answers[name] or None
        if getattr(mreturn, name) != new:
            label = ANSWER_LABELS[name]
            # Narratives are not copied into the audit trail: it records that they changed.
            changes[label] = [getattr(mreturn, name), new] if name == "partner_rag" else ["changed", "changed"]
            setattr(mreturn, name, new)
    _flush(project, quarter, mreturn, by, answers)
    _audit_save(mreturn, "narrative", changes, by, autosave)
    return mreturn


SAVED = "monitoring_return.saved"


def _recently_saved(mreturn: MonitoringReturn, section: str, by) -> bool:
    """This person's save of this section is already in the trail within AUTOSAVE_AUDIT_MINUTES, with no change of
    the return's state since. One query, over the return's last few minutes (ix_audit_event_object_at)."""
    since = utcnow() - timedelta(minutes=AUTOSAVE_AUDIT_MINUTES)
    recent = db.session.execute(
        select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.details)
        .where(
            AuditEvent.object_type == "monitoring_return",
            AuditEvent.object_id == mreturn.id,
            AuditEvent.at >= since,
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    for action, actor_id, details in recent:
        if action in REVIEW_ACTIONS:
            return False  # submitted, sent back or reopened since: the next save starts a new record
        if action == SAVED and actor_id == by.id and (details or {}).get("section") == section:
            return True
    return False


def _audit_save(mreturn: MonitoringReturn, section: str, changes: dict, by, autosave: bool = False) -> None:
    """One "saved" event per save from a button; an autosave's only when the window holds none (see
    AUTOSAVE_AUDIT_MINUTES). A return created by this very save has no events yet."""
    if autosave and mreturn.version > 1 and _recently_saved(mreturn, section, by):
        return
    audit.record(
        SAVED,
        object_type="monitoring_return",
        object_id=mreturn.id,
        summary=f"Saved {section} of Q{mreturn.quarter} return: {mreturn.project.name}",
        actor=by,
        organisation_id=mreturn.project.organisation_id,
        details={"section": section, "version": mreturn.version, "changes": changes},
    )


def record_refused_change(mreturn: MonitoringReturn, *, what: str, posted_version: int | None, by) -> None:
    """A save or decision refused because the return changed after the form was opened: the return keeps the
    other person's version, and the trail records the conflict (who, from which version, against which)."""
    audit.record(
        "monitoring_return.conflict",
        object_type="monitoring_return",
        object_id=mreturn.id,
        summary=f"Refused {what} of Q{mreturn.quarter} return (changed after it was opened): {mreturn.project.name}",
        actor=by,
        organisation_id=mreturn.project.organisation_id,
        details={"refused": what, "posted_version": posted_version, "current_version": mreturn.version},
    )


def differences(project: Project, mreturn: MonitoringReturn | None, posted: Mapping[str, object]) -> list[str]:
    """What the saved return says that differs from what was posted, by the answers' names on the pages."""
    if mreturn is None:
        return []
    found = []
    for measure in project.measures:
        key = f"m{measure.id}"
        if key in posted:
            saved = mreturn.value_of(measure.id)
            if _describe(saved) != _describe(posted[key]):
                found.append(f"{measure.name} (saved: {_describe(saved)})")
    if "spend" in posted and posted["spend"] != mreturn.spend_pence:
        found.append(f"{SPEND_LABEL} (saved: {format_pence(mreturn.spend_pence) or 'blank'})")
    for name, label in ANSWER_LABELS.items():
        if name != "spend" and name in posted and (posted[name] or None) != (getattr(mreturn, name) or None):
            found.append(label)
    return found


# -- submitting and reviewing -------------------------------------------------------------------


def _lock(mreturn: MonitoringReturn) -> MonitoringReturn:
    """Re-read the return holding a row lock (PostgreSQL; SQLite already holds its write lock)."""
    return db.session.execute(
        select(MonitoringReturn)
        .where(MonitoringReturn.id == mreturn.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


# A submit from a Check your answers page older than the answers is refused with the return as saved now.
SUBMIT_CONFLICT = "This return was changed after you opened this page. Check the answers below, then submit again."


def personal_data_findings(mreturn: MonitoringReturn | None) -> list[tuple[str, Finding]]:
    """(answer's name, finding) for what looks like personal data in the return's narrative answers."""
    if mreturn is None:
        return []
    return findings_for({name: getattr(mreturn, name) for name in NARRATIVE_FIELDS})


def note_personal_data(mreturn: MonitoringReturn) -> None:
    """Store whether the return's narrative answers look like personal data, for the review queue to read: on
    submission, and after anything that changes a submitted return's answers (a redaction)."""
    mreturn.personal_data_found = bool(personal_data_findings(mreturn))


def personal_data_kinds(findings: list[tuple[str, Finding]]) -> list[str]:
    """The kinds found, each once, in the order of the checks: what may be recorded (the matched text may not)."""
    found = {finding.kind for _, finding in findings}
    return [kind for kind in PERSONAL_DATA_LABELS if kind in found]


PERSONAL_DATA_REASON_NEEDED = "Say why these answers do not contain personal information"


def _earlier_submission(mreturn: MonitoringReturn, submission_key: str) -> SubmitResult | None:
    """The submission a retry or double-click repeats, or the one already made: nothing new is created."""
    already = db.session.scalar(select(ReturnRevision).where(ReturnRevision.submission_key == submission_key))
    if already is not None:
        if already.return_id != mreturn.id:
            raise ReturnError("That submission belongs to another return")
        return SubmitResult(mreturn, already, created=False)
    if mreturn.is_reported:
        return SubmitResult(mreturn, _latest_revision(mreturn), created=False)
    return None


def submit_return(
    project: Project,
    quarter: int,
    *,
    version: int,
    submission_key: str,
    by,
    personal_data_reason: str | None = None,
) -> SubmitResult:
    """Submit once: a retry or double-click with the same key returns the first submission. Answers that look
    like personal data need the partner's reason why they are not; the revision and the audit trail record the
    kinds found and the reason, never the matched text."""
    mreturn = find_return(project, quarter)
    if mreturn is None:
        raise ReturnError("There is nothing to submit yet: answer the questions first")
    mreturn = _lock(mreturn)  # concurrent submits of this return queue here
    if (earlier := _earlier_submission(mreturn, submission_key)) is not None:
        return earlier
    if project.year.is_closed:
        raise ReturnError(f"The {project.year.label} financial year is closed: returns can no longer be submitted")
    if mreturn.version != version:
        raise ReturnConflict(mreturn, [], SUBMIT_CONFLICT)
    if missing_answers(project, mreturn):
        raise ReturnError("Some answers are missing: complete them before you submit")
    kinds, reason = _override(mreturn, personal_data_reason)
    now = utcnow()
    revision = ReturnRevision.snapshot(
        mreturn,
        number=_revision_count(mreturn) + 1,
        at=now,
        by_id=by.id,
        submission_key=submission_key,
        personal_data_kinds=kinds,
        personal_data_reason=reason,
    )
    db.session.add(revision)
    mreturn.status = SUBMITTED
    note_personal_data(mreturn)
    mreturn.submitted_at = now
    mreturn.submitted_by_id = by.id
    mreturn.updated_by_id = by.id
    try:
        db.session.flush()
    except (IntegrityError, StaleDataError) as error:
        db.session.rollback()
        raise ReturnConflict(find_return(project, quarter), [], SUBMIT_CONFLICT) from error
    audit.record(
        "monitoring_return.submitted",
        object_type="monitoring_return",
        object_id=mreturn.id,
        summary=f"Submitted Q{quarter} return (revision {revision.number}): {project.name}",
        actor=by,
        organisation_id=project.organisation_id,
        details=_submitted_details(revision),
    )
    notifications.notify_return_submitted(mreturn)
    return SubmitResult(mreturn, revision, created=True)


def _override(mreturn: MonitoringReturn, reason: str | None) -> tuple[list[str], str | None]:
    """The kinds of personal data the answers seem to hold, and the partner's reason (needed when any are)."""
    kinds = personal_data_kinds(personal_data_findings(mreturn))
    reason = (reason or "").strip() or None
    if kinds and reason is None:
        raise ReturnError(PERSONAL_DATA_REASON_NEEDED)
    return kinds, reason


def _submitted_details(revision: ReturnRevision) -> dict:
    details = {"revision": revision.number, "values": revision.values, "spend_pence": revision.spend_pence}
    if revision.overrode_personal_data:
        # That the warning was overridden, what kinds of thing were found and that a reason was given: never the
        # words matched, nor the reason's text (it may itself hold personal data; the revision keeps it).
        details["personal_data_overridden"] = True
        details["personal_data_found"] = [PERSONAL_DATA_LABELS[kind] for kind in revision.personal_data_kinds or []]
        details["personal_data_reason"] = AUDIT_REASON_GIVEN
    return details


def _latest_revision(mreturn: MonitoringReturn) -> ReturnRevision:
    """A submitted or approved return always has one: submitting (or importing) it made it."""
    return db.session.execute(
        select(ReturnRevision)
        .where(ReturnRevision.return_id == mreturn.id)
        .order_by(ReturnRevision.number.desc())
        .limit(1)
    ).scalar_one()


def _revision_count(mreturn: MonitoringReturn) -> int:
    return db.session.execute(select(func.count()).where(ReturnRevision.return_id == mreturn.id)).scalar_one()


def _review(mreturn: MonitoringReturn, version: int, allowed: tuple[str, ...]) -> MonitoringReturn:
    mreturn = _lock(mreturn)
    if mreturn.project.year.is_closed:
        raise ReturnError(f"The {mreturn.project.year.label} financial year is closed")
    if mreturn.status not in allowed:
        raise ReturnError(f"This return is {mreturn.status_label.lower()}: it cannot be changed that way")
    if mreturn.version != version:
        raise ReturnConflict(mreturn, [])
    return mreturn


# The CSU's decisions: the states a return may be in, the state it moves to, and how it is audited.
DECISIONS = {
    "approve": ((SUBMITTED,), APPROVED, "approved", "Approved"),
    "request_changes": ((SUBMITTED,), CHANGES_REQUESTED, "changes_requested", "Requested changes to"),
    "reopen": ((APPROVED,), CHANGES_REQUESTED, "reopened", "Reopened"),
}


def _decide(mreturn: MonitoringReturn, decision: str, version: int, by, comment: str | None = None) -> MonitoringReturn:
    allowed, status, action, verb = DECISIONS[decision]
    mreturn = _review(mreturn, version, allowed)
    mreturn.status = status
    mreturn.updated_by_id = by.id
    if status == APPROVED:
        mreturn.approved_at, mreturn.approved_by_id = utcnow(), by.id
    else:  # sent back with the reason: no longer approved, if it was
        mreturn.review_comment = comment
        mreturn.approved_at = mreturn.approved_by_id = None
    db.session.flush()
    _audit_review(mreturn, action, verb, comment, by)
    _tell_partner(mreturn, decision, comment or "")
    return mreturn


def _tell_partner(mreturn: MonitoringReturn, decision: str, comment: str) -> None:
    if decision == "approve":
        notifications.notify_return_approved(mreturn)
    elif decision == "request_changes":
        notifications.notify_return_sent_back(mreturn, comment)
    else:
        notifications.notify_return_reopened(mreturn, comment)


def approve_return(mreturn: MonitoringReturn, *, version: int, by) -> MonitoringReturn:
    return _decide(mreturn, "approve", version, by)


def request_changes(mreturn: MonitoringReturn, *, version: int, comment: str, by) -> MonitoringReturn:
    return _decide(mreturn, "request_changes", version, by, comment)


def reopen_return(mreturn: MonitoringReturn, *, version: int, reason: str, by) -> MonitoringReturn:
    return _decide(mreturn, "reopen", version, by, reason)


def _audit_review(mreturn: MonitoringReturn, action: str, verb: str, comment: str | None, by) -> None:
    audit.record(
        f"monitoring_return.{action}",
        object_type="monitoring_return",
        object_id=mreturn.id,
        summary=f"{verb} Q{mreturn.quarter} return: {mreturn.project.name}",
        actor=by,
        organisation_id=mreturn.project.organisation_id,
        details={"comment": comment, "status": mreturn.status},
    )


REVIEW_QUEUE_PER_PAGE = 25


@dataclass
class ReviewQueuePage:
    returns: list[MonitoringReturn]  # this page's returns, their project, organisation, year and submitter loaded
    page: PageOf
    loaded: list  # what the rows were loaded with, held so the page asks the session, never the database


def review_queue(page: int = 1, *, per_page: int = REVIEW_QUEUE_PER_PAGE) -> ReviewQueuePage:
    """Submitted returns, oldest first, a page at a time (a page past the last shows the last): two queries
    whatever their number. Their answers stay in the database: the personal-data flag was stored on submission."""
    waiting = MonitoringReturn.status == SUBMITTED
    at = PageOf.clamped(page, db.session.scalar(select(func.count()).where(waiting)) or 0, per_page)
    rows = list(
        db.session.execute(
            select(MonitoringReturn, Project, Organisation, FinancialYear, User)
            .join(Project, Project.id == MonitoringReturn.project_id)
            .join(Organisation, Organisation.id == Project.organisation_id)
            .join(FinancialYear, FinancialYear.id == Project.year_id)
            .outerjoin(User, User.id == MonitoringReturn.submitted_by_id)
            .where(waiting)
            .options(
                load_only(
                    MonitoringReturn.project_id,
                    MonitoringReturn.quarter,
                    MonitoringReturn.status,
                    MonitoringReturn.submitted_at,
                    MonitoringReturn.submitted_by_id,
                    MonitoringReturn.personal_data_found,
                )
            )
            .order_by(MonitoringReturn.submitted_at, MonitoringReturn.id)
            .offset(at.offset)
            .limit(per_page)
        )
    )
    return ReviewQueuePage(returns=[row[0] for row in rows], page=at, loaded=rows)


# -- revisions ----------------------------------------------------------------------------------


def revision_answers(project: Project, revision: ReturnRevision) -> list[tuple[str, str]]:
    """A revision's answers as (question, answer) rows, measures first, in the project's order."""
    rows = []
    names = [measure.name for measure in project.measures]
    for name in names + sorted(set(revision.values) - set(names)):
        if name in revision.values:
            rows.append((name, format_quantity(Decimal(revision.values[name]))))
        else:
            rows.append((name, ""))
    rows.append((SPEND_LABEL, format_pence(revision.spend_pence)))
    rows.append(("Explanation of spend", revision.spend_explanation or ""))
    rows.append(("Progress this quarter", revision.progress or ""))
    rows.append(("Case study", revision.case_study or ""))
    rows.append(("Challenges and risks", revision.challenges or ""))
    rows.append((RATING_LABEL, rag_label(revision.partner_rag)))
    rows.append(("Reason for your rating", revision.partner_rag_reason or ""))
    return rows


def compare_revisions(project: Project, older: ReturnRevision, newer: ReturnRevision) -> list[dict]:
    before = dict(revision_answers(project, older))
    return [
        {
            "question": question,
            "before": before.get(question, ""),
            "after": answer,
            "changed": before.get(question, "") != answer,
        }
        for question, answer in revision_answers(project, newer)
    ]


def current_answers(
    project: Project,
    mreturn: MonitoringReturn | None,
    quarter: int | None = None,
    earlier: list[MonitoringReturn] | None = None,
) -> list[dict]:
    """The draft's answers for Check your answers: section, question, answer, the field it is typed in, and for
    figures the year to date (spend: the reported quarters' and this one's; `earlier`: as for output_context)."""
    rows = []
    quarter = quarter or (mreturn.quarter if mreturn else 1)
    measures = return_measures(project, mreturn)
    context = output_context(project, quarter, measures, earlier)
    for measure in measures:
        value = mreturn.value_of(measure.id) if mreturn else None
        answer = f"{format_quantity(value)} {measure.unit}" if value is not None else ""
        to_date = context[measure.id].year_to_date(value)
        rows.append(
            {
                "section": "outputs",
                "field": f"m{measure.id}",
                "question": measure.name,
                "answer": answer,
                "to_date": f"{format_quantity(to_date)} {measure.unit}" if to_date is not None else "",
            }
        )
    spend = mreturn.spend_pence if mreturn else None
    before, _ = reported_spend_before(project, quarter)
    rows.append(
        {
            "section": "spend",
            "field": "spend",
            "question": SPEND_LABEL,
            "answer": format_pence(spend),
            "to_date": f"{format_pence(before + (spend or 0))} of the {format_pence(project.amount_pence)} award",
        }
    )
    if mreturn is not None and mreturn.spend_explanation:
        rows.append(
            {
                "section": "spend",
                "field": "spend_explanation",
                "question": "Explanation of spend",
                "answer": mreturn.spend_explanation,
            }
        )
    for name in ("progress", "case_study", "challenges"):
        answer = (getattr(mreturn, name) if mreturn else None) or ""
        rows.append({"section": "narrative", "field": name, "question": NARRATIVE_FIELDS[name], "answer": answer})
    rating = rag_label(mreturn.partner_rag if mreturn else None)
    rows.append({"section": "narrative", "field": "partner_rag", "question": RATING_LABEL, "answer": rating})
    reason = (mreturn.partner_rag_reason if mreturn else None) or ""
    rows.append(
        {
            "section": "narrative",
            "field": "partner_rag_reason",
            "question": NARRATIVE_FIELDS["partner_rag_reason"],
            "answer": reason,
        }
    )
    return rows


REVIEW_ACTIONS = (
    "monitoring_return.changes_requested",
    "monitoring_return.approved",
    "monitoring_return.reopened",
    "monitoring_return.submitted",
    "monitoring_return.redacted",
)


def history_statement(return_ids: list[int]) -> Select[AuditEvent]:
    """The review events of these returns, newest first, each with the person who acted."""
    return (
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "monitoring_return",
            AuditEvent.object_id.in_(return_ids),
            AuditEvent.action.in_(REVIEW_ACTIONS),
        )
        # The actor in the same query; the history shows their name, never their roles.
        .options(joinedload(AuditEvent.actor).options(lazyload(User.role_rows)))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )


def review_histories(returns: Iterable[MonitoringReturn | None]) -> dict[int, list[AuditEvent]]:
    """Each return's submissions, approvals, requests for changes and reopenings by the return's id, newest first,
    with their comments and who acted: one query for all of a project's returns (ix_audit_event_object_at)."""
    ids = [mreturn.id for mreturn in returns if mreturn is not None and mreturn.id is not None]
    if not ids:
        return {}
    found: dict[int, list[AuditEvent]] = {return_id: [] for return_id in ids}
    for event in db.session.scalars(history_statement(ids)):
        found[event.object_id].append(event)  # type: ignore[index]  # the query asked for these ids only
    return found


def attach_revisions(returns: Iterable[MonitoringReturn]) -> None:
    """Set each return's revisions from one query, so a page listing several returns' submissions reads them
    once rather than once a return."""
    by_id = {mreturn.id: mreturn for mreturn in returns}
    if not by_id:
        return
    found: dict[int, list[ReturnRevision]] = {return_id: [] for return_id in by_id}
    for revision in db.session.scalars(
        select(ReturnRevision).where(ReturnRevision.return_id.in_(by_id)).order_by(ReturnRevision.number)
    ):
        found[revision.return_id].append(revision)
    for return_id, revisions in found.items():
        set_committed_value(by_id[return_id], "revisions", revisions)


def review_history(mreturn: MonitoringReturn | None) -> list[AuditEvent]:
    """One return's review history, newest first (see review_histories)."""
    if mreturn is None:
        return []
    return review_histories([mreturn]).get(mreturn.id, [])


def revisions_to_compare(
    mreturn: MonitoringReturn | None, first: int | None, second: int | None
) -> tuple[ReturnRevision, ReturnRevision] | None:
    """The two revisions to compare, older first (default: the last two); None when either is unknown."""
    if mreturn is None or not mreturn.revisions:
        return None
    numbers = [item.number for item in mreturn.revisions]
    first = first if first is not None else (numbers[-2] if len(numbers) > 1 else numbers[-1])
    second = second if second is not None else numbers[-1]
    found = {item.number: item for item in mreturn.revisions}
    if first not in found or second not in found:
        return None
    older, newer = sorted((found[first], found[second]), key=lambda item: item.number)
    return older, newer
