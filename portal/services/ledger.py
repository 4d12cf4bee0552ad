"""The PCC grant ledger, exact in pence: awards and their variations, payments and reversals,
planned instalments, and the year-end reconciliation and close. Services flush; views commit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload, lazyload

from ..calendar import uk_today
from ..extensions import db
from ..models import (
    AwardVariation,
    FinancialYear,
    FundingStream,
    MonitoringReturn,
    Organisation,
    Payment,
    PaymentInstalment,
    Project,
    ReturnArrangement,
    User,
)
from ..models.payment import PAYMENT, REVERSAL
from ..models.types import utcnow
from ..models.vocabulary import APPROVED, DUE, HELD, NOT_STARTED, NOT_YET_DUE, PAID, QUARTERS
from ..money import format_pence
from . import audit, notifications
from .figures import paid_by_project
from .ordering import code_point_order, text_order

AWARD = "award"
VARIATION = "variation"
ENTRY_TYPES = (AWARD, VARIATION, PAYMENT, REVERSAL)
# A person's variation, asked to confirm an over-allocation. The year import passes its own action: its file is
# the partnership's plan, and there is nobody to ask.
AWARD_VARIED = "award.varied"


class LedgerError(ValueError):
    """A change the ledger's rules refuse; the message is for the person and names the field.

    When the change may go ahead once the person confirms it, `confirms` is the value the field's box must
    carry: it names what the message described (an amount over, the payments that used a reference), so a box
    ticked for one figure never confirms another, nor one that changed meanwhile.
    """

    def __init__(self, message: str, field: str | None = None, *, confirms: str | None = None):
        super().__init__(message)
        self.field = field
        self.confirms = confirms


class LedgerConflict(LedgerError):
    """Refused because of the ledger's state (a closed year, a payment already reversed), not what was typed."""


def ensure_open(year: FinancialYear) -> None:
    if year.is_closed:
        raise LedgerConflict(f"The {year.label} financial year is closed: its awards and payments cannot change")


def net_paid(project: Project) -> int:
    return paid_by_project([project.id]).get(project.id, 0)


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


# -- guard rails: what a change would do that a person must confirm or explain ------------------


@dataclass(frozen=True)
class Allocation:
    """A funding stream's total against what its projects are awarded, now and after one award changes."""

    stream: FundingStream
    awarded_now_pence: int
    awarded_after_pence: int

    @property
    def over_by_pence(self) -> int:
        return max(self.awarded_after_pence - self.stream.amount_pence, 0)

    def refusal(self) -> str:
        return (
            f"This change takes {self.stream.name} past its total of {format_pence(self.stream.amount_pence)}: "
            f"{format_pence(self.awarded_now_pence)} is awarded now and {format_pence(self.awarded_after_pence)} "
            f"would be after the change, over by {format_pence(self.over_by_pence)}. "
            "Enter a smaller award, or confirm the over-allocation"
        )


def allocation_after(project: Project, to_pence: int) -> Allocation:
    """The project's stream with every award as it is, and as it would be with this project's award at to_pence."""
    awarded = int(
        db.session.scalar(
            select(func.coalesce(func.sum(Project.amount_pence), 0)).where(
                Project.funding_stream_id == project.funding_stream_id
            )
        )
        or 0
    )
    return Allocation(project.funding_stream, awarded, awarded - project.amount_pence + to_pence)


def reference_uses(year: FinancialYear, reference: str | None) -> list[Payment]:
    """The payments of a year (any project) that used this reference, trimmed and in any case. A reversal is not
    a use, and neither is a payment since reversed: its money is back."""
    text = (reference or "").strip()
    if not text:
        return []
    reversal = aliased(Payment)
    return list(
        db.session.scalars(
            select(Payment)
            .join(Project, Payment.project_id == Project.id)
            .where(
                Project.year_id == year.id,
                Payment.kind == PAYMENT,
                func.lower(func.trim(Payment.reference)) == func.lower(text),
                ~exists().where(reversal.reverses_id == Payment.id),
            )
            .options(joinedload(Payment.project).joinedload(Project.organisation))
            .order_by(Payment.paid_on, Payment.id)
        )
    )


def _uses_token(uses: list[Payment]) -> str:
    return ",".join(str(payment.id) for payment in uses)


def _reference_refusal(reference: str, year: FinancialYear, uses: list[Payment]) -> str:
    described = "; ".join(
        f"{format_pence(payment.amount_pence)} to {payment.project.organisation.short_name}: {payment.project.name} "
        f"on {_day(payment.paid_on)}"
        for payment in uses
    )
    used_by = "the payment of" if len(uses) == 1 else f"{len(uses)} payments:"
    return (
        f"Reference {reference} is already used in {year.label} by {used_by} {described}. "
        "Enter a different reference, or confirm this payment is intended"
    )


def _reason_refusal(held: list[PaymentInstalment], paid_after: int, award_pence: int) -> str | None:
    """Why this payment needs a reason (a held instalment, more than the award), or None when it needs none."""
    parts = []
    if held:
        first = held[0]
        parts.append(
            f"Instalment {first.number} of {format_pence(first.amount_pence)} is held until the "
            f"Q{first.after_quarter} return is approved"
        )
    if paid_after > award_pence:
        parts.append(
            f"this payment takes the total paid to {format_pence(paid_after)}, more than the award of "
            f"{format_pence(award_pence)}"
        )
    if not parts:
        return None
    message = ", and ".join(parts) + ": give a reason"
    return message[0].upper() + message[1:]


# -- changes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentChecks:
    """What a payment would do that a person had to confirm or explain, kept for its audit record."""

    reference_used_by: list[Payment]
    held: list[PaymentInstalment]
    over_award_pence: int

    def details(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.reference_used_by:
            found["confirmed_reference_used_by"] = [payment.id for payment in self.reference_used_by]
        if self.held:
            found["held_instalment"] = self.held[0].number
        if self.over_award_pence:
            found["over_award_by_pence"] = self.over_award_pence
        return found


def _check_payment(
    project: Project, amount_pence: int, reference: str | None, reason: str | None, reference_confirmed: str | None
) -> PaymentChecks:
    """Refuse a reference already used in the year unless confirmed; ask a reason for a held instalment or for
    paying more than the award."""
    uses = reference_uses(project.year, reference)
    if uses and reference_confirmed != _uses_token(uses):
        raise LedgerError(
            _reference_refusal(reference or "", project.year, uses), "confirm_reference", confirms=_uses_token(uses)
        )
    ledger = project_ledger(project)
    held = ledger.held_instalments_paid_by(amount_pence)
    paid_after = ledger.paid_pence + amount_pence
    needs_reason = _reason_refusal(held, paid_after, project.amount_pence)
    if needs_reason and not reason:
        raise LedgerError(needs_reason, "reason")
    return PaymentChecks(uses, held, max(paid_after - project.amount_pence, 0))


def record_payment(
    project: Project,
    *,
    amount_pence: int,
    paid_on: date,
    reference: str | None,
    note: str | None,
    reason: str | None,
    by,
    reference_confirmed: str | None = None,
) -> Payment:
    """Record a payment. A reference already used in the year is refused unless `reference_confirmed` is the
    `confirms` of that refusal; paying a held instalment, or more than the award, needs a reason."""
    ensure_open(project.year)
    if amount_pence <= 0:
        raise LedgerError("Amount must be more than £0.00", "amount")
    if paid_on > uk_today():
        raise LedgerError("Date paid must be today or in the past", "paid_on")
    reference = (reference or "").strip() or None
    checks = _check_payment(project, amount_pence, reference, reason, reference_confirmed)
    payment = Payment(
        project=project,
        kind=PAYMENT,
        amount_pence=amount_pence,
        paid_on=paid_on,
        reference=reference,
        note=note or None,
        reason=reason or None,
        recorded_by_id=by.id,
    )
    db.session.add(payment)
    db.session.flush()
    summary = f"Recorded a payment of {format_pence(amount_pence)} to {project.name}"
    if checks.reference_used_by:
        summary += ", confirmed although its reference was already used"
    if checks.held:
        summary += f", while instalment {checks.held[0].number} was held"
    audit.record(
        "payment.recorded",
        object_type="payment",
        object_id=payment.id,
        summary=summary,
        actor=by,
        organisation_id=project.organisation_id,
        details={
            "project_id": project.id,
            "amount_pence": amount_pence,
            "paid_on": paid_on.isoformat(),
            "reference": reference,
            "reason": reason,
            **checks.details(),
        },
    )
    notifications.notify_payment_recorded(payment)
    return payment


def reverse_payment(payment: Payment, *, reason: str, by) -> Payment:
    """Undo a payment with an equal and opposite entry; the original stays on the ledger."""
    ensure_open(payment.project.year)
    if payment.kind != PAYMENT:
        raise LedgerConflict("Only a payment can be reversed")
    if not reason:
        raise LedgerError("Enter why the payment is being reversed", "reason")
    already = db.session.scalar(select(Payment.id).where(Payment.reverses_id == payment.id))
    if already is not None:
        raise LedgerConflict("This payment has already been reversed")
    reversal = Payment(
        project_id=payment.project_id,
        kind=REVERSAL,
        amount_pence=payment.amount_pence,
        paid_on=uk_today(),
        reference=payment.reference,
        reason=reason,
        reverses_id=payment.id,
        recorded_by_id=by.id,
    )
    db.session.add(reversal)
    try:
        db.session.flush()
    except IntegrityError as error:  # a concurrent reversal of the same payment won
        db.session.rollback()
        raise LedgerConflict("This payment has already been reversed") from error
    audit.record(
        "payment.reversed",
        object_type="payment",
        object_id=reversal.id,
        summary=f"Reversed a payment of {format_pence(payment.amount_pence)} to {payment.project.name}",
        actor=by,
        organisation_id=payment.project.organisation_id,
        details={"reverses": payment.id, "amount_pence": payment.amount_pence, "reason": reason},
    )
    return reversal


def vary_award(
    project: Project,
    *,
    to_pence: int,
    reason: str,
    by,
    action: str = AWARD_VARIED,
    over_allocation_confirmed: str | None = None,
) -> AwardVariation:
    """Change an award, keeping the original. A person's rise that takes the stream past its total is refused
    unless `over_allocation_confirmed` is the `confirms` of that refusal (the pence over, as shown)."""
    ensure_open(project.year)
    if to_pence == project.amount_pence:
        raise LedgerError(f"The award is already {format_pence(to_pence)}", "amount")
    if not reason:
        raise LedgerError("Enter the reason for the change", "reason")
    allocation = allocation_after(project, to_pence)
    over = allocation.over_by_pence if to_pence > project.amount_pence else 0
    if over and action == AWARD_VARIED and over_allocation_confirmed != str(over):
        raise LedgerError(allocation.refusal(), "confirm_over_allocation", confirms=str(over))
    variation = AwardVariation(
        project=project,
        from_pence=project.amount_pence,
        to_pence=to_pence,
        reason=reason,
        varied_by_id=getattr(by, "id", None),
    )
    db.session.add(variation)
    project.amount_pence = to_pence
    db.session.flush()
    details: dict[str, object] = {"from_pence": variation.from_pence, "to_pence": to_pence, "reason": reason}
    if over:
        details |= {
            "over_allocation_confirmed": action == AWARD_VARIED,
            "over_allocated_by_pence": over,
            "stream_total_pence": allocation.stream.amount_pence,
            "awarded_after_pence": allocation.awarded_after_pence,
        }
    audit.record(
        action,
        object_type="project",
        object_id=project.id,
        summary=(
            f"Award for {project.name} changed from {format_pence(variation.from_pence)} to {format_pence(to_pence)}"
            + (f", over-allocating {allocation.stream.name} by {format_pence(over)} (confirmed)" if over else "")
        ),
        actor=by,
        organisation_id=project.organisation_id,
        details=details,
    )
    return variation


def add_instalment(
    project: Project, *, amount_pence: int, due_on: date | None, after_quarter: int | None, note: str | None, by
) -> PaymentInstalment:
    ensure_open(project.year)
    number = (
        db.session.scalar(select(func.max(PaymentInstalment.number)).where(PaymentInstalment.project_id == project.id))
        or 0
    ) + 1
    instalment = PaymentInstalment(
        project=project,
        number=number,
        amount_pence=amount_pence,
        due_on=due_on,
        after_quarter=after_quarter,
        note=note or None,
        created_by_id=by.id,
    )
    db.session.add(instalment)
    db.session.flush()
    audit.record(
        "instalment.added",
        object_type="project",
        object_id=project.id,
        summary=f"Planned instalment {number} of {format_pence(amount_pence)} for {project.name}",
        actor=by,
        organisation_id=project.organisation_id,
        details={
            "number": number,
            "amount_pence": amount_pence,
            "due_on": due_on.isoformat() if due_on else None,
            "after_quarter": after_quarter,
        },
    )
    return instalment


def remove_instalment(instalment: PaymentInstalment, *, by) -> None:
    """A plan can change; the audit trail keeps what it was."""
    ensure_open(instalment.project.year)
    audit.record(
        "instalment.removed",
        object_type="project",
        object_id=instalment.project_id,
        summary=f"Removed planned instalment {instalment.number} of {format_pence(instalment.amount_pence)}",
        actor=by,
        organisation_id=instalment.project.organisation_id,
        details={"number": instalment.number, "amount_pence": instalment.amount_pence},
    )
    db.session.delete(instalment)
    db.session.flush()


@dataclass(frozen=True)
class OpenReturn:
    """A return of the year not approved: its status, or NOT_STARTED for an opened quarter with none."""

    project: Project
    quarter: int
    status: str


@dataclass(frozen=True)
class YearEndCheck:
    """What is still outstanding when a year is closed: its Q4 returns not yet due, returns not approved (the first
    `open_returns`, by organisation, project and quarter, of `open_count`)."""

    year: FinancialYear
    today: date
    open_returns: list[OpenReturn]
    open_count: int

    @property
    def q4_due(self) -> date:
        return self.year.quarter(4).due

    @property
    def before_q4_due(self) -> bool:
        return self.today <= self.q4_due

    @property
    def needs_reason(self) -> bool:
        return self.before_q4_due or bool(self.open_count)

    @property
    def open_not_shown(self) -> int:
        return self.open_count - len(self.open_returns)

    def outstanding(self) -> str:
        """'The Q4 returns are not due until 14 April 2027 and 3 returns are not approved'; empty when nothing is."""
        parts = []
        if self.before_q4_due:
            parts.append(f"The Q4 returns are not due until {_day(self.q4_due)}")
        count = self.open_count
        if count:
            parts.append(f"{count} {'return is' if count == 1 else 'returns are'} not approved")
        return " and ".join(parts)

    def refusal(self) -> str:
        return f"{self.outstanding()}: enter why the year is being closed now"


def _open_returns(year: FinancialYear, opened: set[int]):
    """Each (project, quarter, status) of the year not approved: a return in any other status, or an opened quarter
    with no return that the CSU did not mark not required. One SELECT per quarter, as one statement."""
    parts = []
    for number in QUARTERS:
        mreturn, waived = aliased(MonitoringReturn), aliased(ReturnArrangement)
        is_open = and_(mreturn.id.is_not(None), mreturn.status != APPROVED)
        if number in opened:
            is_open = or_(is_open, and_(mreturn.id.is_(None), waived.id.is_(None)))
        parts.append(
            select(
                Project.id.label("project_id"),
                literal(number, Integer).label("quarter"),
                func.coalesce(mreturn.status, NOT_STARTED).label("status"),
            )
            .outerjoin(mreturn, and_(mreturn.project_id == Project.id, mreturn.quarter == number))
            .outerjoin(
                waived,
                and_(waived.project_id == Project.id, waived.quarter == number, waived.not_required.is_(True)),
            )
            .where(Project.year_id == year.id, is_open)
        )
    return union_all(*parts).subquery()


def year_end_check(year: FinancialYear, today: date | None = None, *, limit: int | None = None) -> YearEndCheck:
    """Each project's returns not approved (a waived quarter with no return is not one), by organisation, project
    and quarter; with `limit`, the first so many and how many in all. One query whatever the size of the year."""
    today = today or uk_today()
    opened = {number for number in QUARTERS if year.quarter(number).has_started(today)}
    found = _open_returns(year, opened)
    query = (
        select(Project, found.c.quarter, found.c.status, func.count().over())
        .join(found, found.c.project_id == Project.id)
        .join(Organisation, Project.organisation_id == Organisation.id)
        .options(joinedload(Project.organisation))
        .order_by(text_order(Organisation.name), text_order(Project.name), Project.id, found.c.quarter)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    open_returns = [OpenReturn(project, quarter, status) for project, quarter, status, _ in rows]
    return YearEndCheck(year, today, open_returns, rows[0][3] if rows else 0)


def close_year(year: FinancialYear, *, by, reason: str | None = None) -> None:
    """Close a year. Before its Q4 returns are due, or with returns not approved, it needs a reason."""
    if year.is_closed:
        raise LedgerConflict(f"{year.label} is already closed")
    check = year_end_check(year)
    if check.needs_reason and not reason:
        raise LedgerError(check.refusal(), "reason")
    year.closed_at = utcnow()
    db.session.flush()
    audit.record(
        "financial_year.closed",
        object_type="financial_year",
        object_id=year.id,
        summary=f"Closed the {year.label} financial year"
        + (f" with a reason ({check.outstanding()})" if check.needs_reason else ""),
        actor=by,
        details={
            "reason": reason or None,
            "before_q4_due": check.before_q4_due,
            "q4_due": check.q4_due.isoformat(),
            "open_returns": [
                {"project_id": item.project.id, "quarter": item.quarter, "status": item.status}
                for item in check.open_returns
            ],
        },
    )


def reopen_year(year: FinancialYear, *, reason: str, by) -> None:
    if not year.is_closed:
        raise LedgerConflict(f"{year.label} is not closed")
    if not reason:
        raise LedgerError("Enter why the year is being reopened", "reason")
    year.closed_at = None
    db.session.flush()
    audit.record(
        "financial_year.reopened",
        object_type="financial_year",
        object_id=year.id,
        summary=f"Reopened the {year.label} financial year",
        actor=by,
        details={"reason": reason},
    )


# -- reading ------------------------------------------------------------------------------------


@dataclass
class LedgerEntry:
    project: Project
    entry_type: str
    on: date
    amount_pence: int  # signed: what the entry does to the amount still to pay
    reference: str | None = None
    note: str | None = None
    recorded_by: User | None = None
    payment: Payment | None = None
    balance_pence: int = 0  # award still to pay after this entry

    @property
    def shown_pence(self) -> int:
        """The entry's own amount as a person reads it: awards and payments positive, a reversal negative."""
        return -self.amount_pence if self.entry_type in (PAYMENT, REVERSAL) else self.amount_pence


@dataclass
class ProjectLedger:
    project: Project
    entries: list[LedgerEntry] = field(default_factory=list)
    instalments: list[PaymentInstalment] = field(default_factory=list)
    approved_quarters: set[int] = field(default_factory=set)

    @property
    def original_award_pence(self) -> int:
        return next(entry.amount_pence for entry in self.entries if entry.entry_type == AWARD)

    @property
    def award_pence(self) -> int:
        return sum(entry.amount_pence for entry in self.entries if entry.entry_type in (AWARD, VARIATION))

    @property
    def paid_pence(self) -> int:
        return sum(entry.payment.signed_pence for entry in self.entries if entry.payment is not None)

    @property
    def balance_pence(self) -> int:
        return sum(entry.amount_pence for entry in self.entries)

    @property
    def reversed_payment_ids(self) -> set[int]:
        return {entry.payment.reverses_id for entry in self.entries if entry.payment and entry.payment.reverses_id}

    def schedule(self, today: date | None = None) -> list[tuple[PaymentInstalment, str]]:
        """Each instalment with its state (`instalment_states`)."""
        return instalment_states(self.instalments, self.paid_pence, self.approved_quarters, today)

    def held_instalments_paid_by(self, amount_pence: int, today: date | None = None) -> list[PaymentInstalment]:
        """The held instalments a payment of this amount would pay, in full or in part: payments go to the
        instalments in order, after what earlier payments cover."""
        left = self.paid_pence + amount_pence
        held = []
        for instalment, state in self.schedule(today):
            if left <= 0:
                break
            if state == HELD:
                held.append(instalment)
            left -= instalment.amount_pence
        return held

    @property
    def schedule_summary(self) -> str:
        return schedule_summary(self.schedule())


def instalment_states(
    instalments: list[PaymentInstalment], paid_pence: int, approved_quarters: set[int], today: date | None = None
) -> list[tuple[PaymentInstalment, str]]:
    """Each instalment with its state: Paid (covered by payments, in order), Held (its return is not approved),
    Due, or Not yet due."""
    today = today or uk_today()
    states = []
    covered = paid_pence
    for instalment in sorted(instalments, key=lambda item: item.number):
        if covered >= instalment.amount_pence:
            covered -= instalment.amount_pence
            states.append((instalment, PAID))
            continue
        covered = 0
        if instalment.after_quarter and instalment.after_quarter not in approved_quarters:
            states.append((instalment, HELD))
        elif instalment.due_on is None or instalment.due_on <= today:
            states.append((instalment, DUE))
        else:
            states.append((instalment, NOT_YET_DUE))
    return states


def schedule_summary(states: list[tuple[PaymentInstalment, str]]) -> str:
    """'2 paid, 1 held', or No schedule."""
    if not states:
        return "No schedule"
    counts: dict[str, int] = {}
    for _, state in states:
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{count} {state.lower()}" for state, count in counts.items())


def _award_date(project: Project) -> date:
    return project.year.quarter(1).start


def _year_projects(year: FinancialYear, project_ids: list[int] | None) -> list[Project]:
    query = (
        select(Project)
        .where(Project.year_id == year.id)
        .options(joinedload(Project.organisation), joinedload(Project.year), joinedload(Project.funding_stream))
        .order_by(Project.id)
    )
    if project_ids is not None:
        query = query.where(Project.id.in_(project_ids))
    return list(db.session.scalars(query))


def _variations_by_project(ids: list[int]) -> dict[int, list[AwardVariation]]:
    """Each project's award variations in the order they were made, with who made them: one query."""
    found: dict[int, list[AwardVariation]] = {}
    if ids:
        for variation in db.session.scalars(
            select(AwardVariation)
            .where(AwardVariation.project_id.in_(ids))
            .options(joinedload(AwardVariation.varied_by).options(lazyload(User.role_rows)))
            .order_by(AwardVariation.varied_at, AwardVariation.id)
        ):
            found.setdefault(variation.project_id, []).append(variation)
    return found


def _payments_by_project(ids: list[int]) -> dict[int, list[Payment]]:
    """Each project's payments and reversals by date paid, with who recorded them: one query."""
    found: dict[int, list[Payment]] = {}
    if ids:
        for payment in db.session.scalars(
            select(Payment)
            .where(Payment.project_id.in_(ids))
            .options(joinedload(Payment.recorded_by).options(lazyload(User.role_rows)))
            .order_by(Payment.paid_on, Payment.id)
        ):
            found.setdefault(payment.project_id, []).append(payment)
    return found


def instalments_by_project(ids: list[int]) -> dict[int, list[PaymentInstalment]]:
    """Each project's planned instalments: one query."""
    found: dict[int, list[PaymentInstalment]] = {}
    if ids:
        for instalment in db.session.scalars(select(PaymentInstalment).where(PaymentInstalment.project_id.in_(ids))):
            found.setdefault(instalment.project_id, []).append(instalment)
    return found


def _approved_quarters_by_project(ids: list[int]) -> dict[int, set[int]]:
    """The quarters of each project whose return is approved, which releases instalments held for them."""
    found: dict[int, set[int]] = {}
    if ids:
        for project_id, quarter in db.session.execute(
            select(MonitoringReturn.project_id, MonitoringReturn.quarter).where(
                MonitoringReturn.project_id.in_(ids), MonitoringReturn.status == APPROVED
            )
        ):
            found.setdefault(project_id, set()).add(quarter)
    return found


def _variation_entry(project: Project, variation: AwardVariation) -> LedgerEntry:
    return LedgerEntry(
        project,
        VARIATION,
        variation.varied_at.date(),
        variation.change_pence,
        note=variation.reason,
        recorded_by=variation.varied_by,
    )


def _payment_entry(project: Project, payment: Payment) -> LedgerEntry:
    return LedgerEntry(
        project,
        payment.kind,
        payment.paid_on,
        -payment.signed_pence,
        reference=payment.reference,
        note=payment.reason or payment.note,
        recorded_by=payment.recorded_by,
        payment=payment,
    )


def _entries(project: Project, variations: list[AwardVariation], payments: list[Payment]) -> list[LedgerEntry]:
    """The original award, then the variations and payments by date (a variation before a payment on the
    same day), each with the balance still to pay after it."""
    original = variations[0].from_pence if variations else project.amount_pence
    entries = [LedgerEntry(project, AWARD, _award_date(project), original, note="Original award")]
    timeline: list[tuple[date, int, LedgerEntry]] = [
        (variation.varied_at.date(), 0, _variation_entry(project, variation)) for variation in variations
    ]
    timeline += [(payment.paid_on, 1, _payment_entry(project, payment)) for payment in payments]
    entries += [entry for _, _, entry in sorted(timeline, key=lambda item: (item[0], item[1]))]
    balance = 0
    for entry in entries:
        balance += entry.amount_pence
        entry.balance_pence = balance
    return entries


def ledgers(year: FinancialYear, *, project_ids: list[int] | None = None) -> list[ProjectLedger]:
    """The ledger of every project of a year (or the given ones), entries dated, with running balances.
    Five queries whatever the number of projects."""
    return ledgers_of(_year_projects(year, project_ids))


def ledgers_of(projects: list[Project], *, schedules: bool = True) -> list[ProjectLedger]:
    """The ledgers of these projects (their year loaded), in their order: two queries, and two more for their
    payment schedules (`schedules=False` leaves the schedules empty)."""
    ids = [project.id for project in projects]
    variations = _variations_by_project(ids)
    payments = _payments_by_project(ids)
    instalments = instalments_by_project(ids) if schedules else {}
    approved = _approved_quarters_by_project(ids) if schedules else {}
    return [
        ProjectLedger(
            project,
            _entries(project, variations.get(project.id, []), payments.get(project.id, [])),
            instalments.get(project.id, []),
            approved.get(project.id, set()),
        )
        for project in projects
    ]


def payments_ledger(project: Project) -> ProjectLedger:
    """The project's award, variations and payments with running balances, as the partner's project page shows them,
    from the project as the request loaded it: two queries. Its instalments are not read (its `schedule()` is empty)."""
    return ledgers_of([project], schedules=False)[0]


def project_ledger(project: Project) -> ProjectLedger:
    """One project's ledger, from the project as the request loaded it (not read again): four queries."""
    return ledgers_of([project])[0]


# -- the year's ledger as a stream, for its download ------------------------------------------------

ROWS_AT_A_TIME = 500  # rows fetched from the database at a time (a server-side cursor on PostgreSQL)


def _in_ledger_order(query: Select, year: FinancialYear, *then: Any) -> Select:
    """The year's projects by organisation name regardless of case, then by project name, then in the order they
    were set up (the order finance's downloads list them in), and within a project by `then`."""
    return (
        query.join(Organisation, Organisation.id == Project.organisation_id)
        .where(Project.year_id == year.id)
        .order_by(text_order(Organisation.name), code_point_order(Project.name), Project.id, *then)
        .execution_options(yield_per=ROWS_AT_A_TIME)
    )


class _ByProject:
    """Rows ordered by project as the projects are, handed out one project's at a time."""

    def __init__(self, rows: Iterable[AwardVariation] | Iterable[Payment]):
        self._groups = groupby(rows, key=attrgetter("project_id"))
        self._next = next(self._groups, None)

    def take(self, project_id: int) -> list:
        if self._next is None or self._next[0] != project_id:
            return []
        found = list(self._next[1])
        self._next = next(self._groups, None)
        return found


def year_entries(year: FinancialYear) -> Iterator[LedgerEntry]:
    """Every entry of the year's ledger, project by project in the downloads' order, read as they are written: three
    queries read side by side, one project's entries held at a time (`_entries` dates and orders them)."""
    projects = db.session.scalars(
        _in_ledger_order(select(Project).options(joinedload(Project.organisation), joinedload(Project.year)), year)
    )
    variations = _ByProject(
        db.session.scalars(
            _in_ledger_order(
                select(AwardVariation)
                .join(Project, Project.id == AwardVariation.project_id)
                .options(joinedload(AwardVariation.varied_by).options(lazyload(User.role_rows))),
                year,
                AwardVariation.varied_at,
                AwardVariation.id,
            )
        )
    )
    payments = _ByProject(
        db.session.scalars(
            _in_ledger_order(
                select(Payment)
                .join(Project, Project.id == Payment.project_id)
                .options(joinedload(Payment.recorded_by).options(lazyload(User.role_rows))),
                year,
                Payment.paid_on,
                Payment.id,
            )
        )
    )
    for project in projects:
        yield from _entries(project, variations.take(project.id), payments.take(project.id))


@dataclass
class ReconciliationRow:
    project: Project
    award_pence: int
    paid_pence: int
    spend_pence: int

    @property
    def underspend_to_recover_pence(self) -> int:
        """What was paid above the final reported spend: to recover from the partner."""
        return max(self.paid_pence - self.spend_pence, 0)

    @property
    def spent_beyond_payments_pence(self) -> int:
        """Final reported spend above what was paid: it may be owed to the partner."""
        return max(self.spend_pence - self.paid_pence, 0)


def amount_over(more, less) -> ColumnElement[int]:
    """SQL for max(more - less, 0): a row's underspend to recover (paid over spend) or spent beyond payments (spend
    over paid), for totals summed in SQL the way ReconciliationRow computes each row."""
    return case((more > less, more - less), else_=0)
