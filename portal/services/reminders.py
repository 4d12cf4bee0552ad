"""Reminders to partners, the CSU's weekly digest and chases from the due list: each mail exactly once.

Each reminder is one `ReminderSent` row (return, person, kind, occasion) under a unique key, inserted in
the same transaction as its outbox message. `send_reminders` commits per batch, so a run stopped half-way
keeps what it committed and the next run skips it; a duplicate insert (two runs at once) rolls its batch
back, mail included, and the batch is tried again without what the other run sent.

Like `mail.deliver_due`, the senders here commit themselves: they are what a daily timer runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..calendar import uk_today
from ..extensions import db
from ..models import DigestSent, FinancialYear, MonitoringReturn, PendingDigestItem, Project, ReminderSent, User
from ..models.types import utcnow
from ..models.user import CSU, UserRole
from ..models.vocabulary import (
    DELIVERY_DAILY,
    DELIVERY_EACH,
    DUE_SOON_DAYS,
    MAIL_KIND_CHASE,
    MAIL_KIND_CSU_DIGEST,
    MAIL_KIND_DUE_SOON,
    MAIL_KIND_OVERDUE,
    SUBMITTED,
)
from . import audit, due
from .delivery import ProjectDelivery
from .mail import Mail, public_url, queue_mails, render_mail
from .preferences import deliveries_for

# A return due on the 14th becomes overdue at midnight, on the 15th; its first overdue reminder goes the day
# after that, the 16th (a day's grace for one sent late on the 15th), then every REMINDER_OVERDUE_EVERY_DAYS.
OVERDUE_FIRST_DAY = 2


@dataclass(frozen=True)
class Occasion:
    """One return that needs a reminder of one kind today."""

    delivery: ProjectDelivery
    quarter: int
    kind: str
    day: date

    @property
    def project(self) -> Project:
        return self.delivery.project

    @property
    def due(self) -> date:
        return self.delivery.quarter(self.quarter).due


@dataclass(frozen=True)
class Planned:
    """One mail to one person about one occasion, as plain values: nothing to load once a batch commits."""

    project_id: int
    quarter: int
    user_id: int
    to: str
    kind: str
    day: date
    delivery: str = DELIVERY_EACH  # or DELIVERY_DAILY: a line in the person's daily summary instead

    @property
    def key(self) -> tuple[int, int, int, str, date]:
        return (self.project_id, self.quarter, self.user_id, self.kind, self.day)

    @property
    def mail_key(self) -> tuple[int, int, str]:
        return (self.project_id, self.quarter, self.kind)


@dataclass
class ReminderReport:
    queued: int = 0
    skipped: int = 0  # already sent on an earlier run
    unreachable: list[Occasion] = field(default_factory=list)  # no active user to remind: on the CSU's lists

    @property
    def summary(self) -> str:
        return (
            f"{self.queued} reminders queued, {self.skipped} already sent, "
            f"{len(self.unreachable)} returns with nobody to remind (listed for the CSU)"
        )


def reminder_kind(delivery: ProjectDelivery, quarter: int, today: date) -> str | None:
    """Which reminder a return is owed today: DAYS_BEFORE days before its due date, the day after it became
    overdue, then every OVERDUE_EVERY_DAYS days while it stays overdue. None when reported or not required."""
    if delivery.is_reported(quarter) or delivery.is_not_required(quarter):
        return None
    cfg = current_app.config
    due_on = delivery.quarter(quarter).due
    if today == due_on - timedelta(days=cfg["REMINDER_DAYS_BEFORE"]):
        return MAIL_KIND_DUE_SOON
    late = (today - due_on).days
    if late >= OVERDUE_FIRST_DAY and (late - OVERDUE_FIRST_DAY) % cfg["REMINDER_OVERDUE_EVERY_DAYS"] == 0:
        return MAIL_KIND_OVERDUE
    return None


def occasions(now: datetime) -> list[Occasion]:
    """Every open year's returns owed a reminder today (UK time): three queries however many."""
    today = uk_today(now)
    found = []
    for delivery in due.open_deliveries(now):
        for quarter in (1, 2, 3, 4):
            kind = reminder_kind(delivery, quarter, today)
            if kind is not None:
                found.append(Occasion(delivery, quarter, kind, today))
    return found


def _done(keys: list[tuple[int, int, int, str, date]]) -> set[tuple]:
    """Which of these reminders were sent already: one query per call (today's occasions only)."""
    if not keys:
        return set()
    columns = (
        ReminderSent.project_id,
        ReminderSent.quarter,
        ReminderSent.user_id,
        ReminderSent.kind,
        ReminderSent.occasion,
    )
    days = {key[4] for key in keys}
    rows = db.session.execute(select(*columns).where(ReminderSent.occasion.in_(days)))
    return {tuple(row) for row in rows} & set(keys)


def _plan(found: list[Occasion], report: ReminderReport) -> list[Planned]:
    """Who gets which reminder, as each chose (overdue ones always come): one query per kind of reminder."""
    contacts = due.contacts_by_organisation({occasion.project.organisation_id for occasion in found})
    people = {user.id: user for users in contacts.values() for user in users}
    choices = {kind: deliveries_for(people.values(), kind) for kind in {occasion.kind for occasion in found}}
    planned: list[Planned] = []
    for occasion in found:
        users = contacts.get(occasion.project.organisation_id, [])
        if not users:
            report.unreachable.append(occasion)
        for user in users:
            delivery = choices[occasion.kind][user.id]
            if delivery in (DELIVERY_EACH, DELIVERY_DAILY):
                planned.append(
                    Planned(
                        occasion.project.id,
                        occasion.quarter,
                        user.id,
                        user.email,
                        occasion.kind,
                        occasion.day,
                        delivery,
                    )
                )
    return planned


def _batches(items: list[Planned], size: int) -> Iterator[list[Planned]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def send_reminders(now: datetime | None = None) -> ReminderReport:
    """Queue today's reminders, committing each batch with its ReminderSent rows."""
    now = now or utcnow()
    report = ReminderReport()
    found = occasions(now)
    planned = _plan(found, report)
    done = _done([item.key for item in planned])
    report.skipped = sum(item.key in done for item in planned)
    waiting = [item for item in planned if item.key not in done]
    # Rendered before the first commit, once per return: committing expires the loaded rows.
    wanted = {item.mail_key for item in waiting}
    mails = {
        (o.project.id, o.quarter, o.kind): reminder_mail(o.delivery, o.quarter, o.kind)
        for o in found
        if (o.project.id, o.quarter, o.kind) in wanted
    }
    for batch in _batches(waiting, current_app.config["REMINDER_BATCH_SIZE"]):
        report.queued += _commit_batch(batch, mails, now)
    return report


Rendered = dict[tuple[int, int, str], tuple[str, tuple[str, str]]]


def _commit_batch(batch: list[Planned], mails: Rendered, now: datetime) -> int:
    """Queue a batch and commit it; should another run have sent some meanwhile, queue the rest once more."""
    for _ in range(2):
        try:
            _queue_batch(batch, mails, now)
            db.session.commit()
            return len(batch)
        except IntegrityError:
            db.session.rollback()
            done = _done([item.key for item in batch])
            batch = [item for item in batch if item.key not in done]
    return 0


def _queue_batch(batch: list[Planned], mails: Rendered, now: datetime, by: User | None = None) -> None:
    """The mails (or summary lines) and their records for one batch: three INSERTs at most, however many rows."""
    queue_mails([Mail(item.to, item.kind, *mails[item.mail_key]) for item in batch if item.delivery == DELIVERY_EACH])
    daily = [
        {"user_id": item.user_id, "kind": item.kind, "text": mails[item.mail_key][0][:500], "link": _return_link(item)}
        for item in batch
        if item.delivery == DELIVERY_DAILY
    ]
    if daily:
        db.session.execute(insert(PendingDigestItem), daily)
    rows = [
        {
            "project_id": item.project_id,
            "quarter": item.quarter,
            "user_id": item.user_id,
            "kind": item.kind,
            "occasion": item.day,
            "sent_at": now,
            "by_id": by.id if by else None,
        }
        for item in batch
    ]
    if rows:
        db.session.execute(insert(ReminderSent), rows)


def _return_link(item: Planned) -> str:
    return public_url("partner.return_overview", project_id=item.project_id, quarter=item.quarter)


SUBJECTS = {
    MAIL_KIND_DUE_SOON: "Reminder: your {quarter} return for {project} is due on {due}",
    MAIL_KIND_OVERDUE: "Overdue: your {quarter} return for {project} was due on {due}",
    MAIL_KIND_CHASE: "The Community Safety Unit asks for your {quarter} return for {project}",
}


def reminder_mail(delivery: ProjectDelivery, quarter: int, kind: str) -> tuple[str, tuple[str, str]]:
    """The subject and parts of a reminder or chase about one return (no person's name: one text for all)."""
    project = delivery.project
    quarter_of = delivery.quarter(quarter)
    label = f"Q{quarter} {project.year.label}"
    due_text = f"{quarter_of.due.day} {quarter_of.due:%B %Y}"
    subject = SUBJECTS[kind].format(quarter=label, project=project.name[:80], due=due_text)
    parts = render_mail(
        "reminder",
        kind=kind,
        project=project,
        quarter=quarter_of,
        label=label,
        link=public_url("partner.return_overview", project_id=project.id, quarter=quarter),
        preferences=public_url("auth.account_mail"),
        contact=current_app.config["CONTACT_EMAIL"],
    )
    return subject[:200], parts


# -- the CSU's weekly digest ------------------------------------------------------------------------


@dataclass
class Digest:
    overdue: list[due.DueItem]
    due_soon: list[due.DueItem]
    waiting_for_review: list[MonitoringReturn]
    unreachable: list[due.DueItem]  # of organisations with no active user: the CSU contacts them

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.due_soon or self.waiting_for_review)


def week_of(today: date) -> date:
    """The digest weekday that starts the week `today` belongs to (on or before today)."""
    return today - timedelta(days=(today.weekday() - current_app.config["DIGEST_WEEKDAY"]) % 7)


def digest(now: datetime) -> Digest:
    items = due.due_and_overdue(now)
    due.last_reminded(items)
    waiting = list(
        db.session.scalars(
            select(MonitoringReturn)
            .join(MonitoringReturn.project)
            .join(Project.year)
            .where(MonitoringReturn.status == SUBMITTED, ~FinancialYear.is_closed)
            .options(
                joinedload(MonitoringReturn.project).options(joinedload(Project.organisation), joinedload(Project.year))
            )
            .order_by(MonitoringReturn.submitted_at, MonitoringReturn.id)
        )
    )
    return Digest(
        overdue=[item for item in items if item.overdue],
        due_soon=[item for item in items if not item.overdue],
        waiting_for_review=waiting,
        unreachable=[item for item in items if not item.reachable],
    )


def send_digest(now: datetime | None = None) -> int:
    """The week's digest to each active CSU user who has not had it, as each chose (committed); how many."""
    now = now or utcnow()
    week = week_of(uk_today(now))
    csu_users = list(
        db.session.scalars(
            select(User).join(UserRole).where(User.active.is_(True), UserRole.role == CSU).order_by(User.email)
        )
    )
    had = set(db.session.scalars(select(DigestSent.user_id).where(DigestSent.week_of == week)))
    choices = deliveries_for(csu_users, MAIL_KIND_CSU_DIGEST)  # optional: each, in the daily summary, or none
    waiting = [user for user in csu_users if user.id not in had and choices[user.id] in (DELIVERY_EACH, DELIVERY_DAILY)]
    if not waiting:
        return 0
    contents = digest(now)
    subject = f"Returns this week: {len(contents.overdue)} overdue, {len(contents.due_soon)} due soon, " + (
        f"{len(contents.waiting_for_review)} to review"
    )
    parts = render_mail(
        "csu_digest",
        digest=contents,
        week=week,
        due_soon_days=DUE_SOON_DAYS,
        due_list=public_url("csu.due_list"),
        reviews=public_url("csu.review_queue"),
        preferences=public_url("auth.account_mail"),
    )
    queue_mails(
        [
            Mail(user.email, MAIL_KIND_CSU_DIGEST, subject, parts)
            for user in waiting
            if choices[user.id] == DELIVERY_EACH
        ]
    )
    daily = [
        {"user_id": user.id, "kind": MAIL_KIND_CSU_DIGEST, "text": subject, "link": public_url("csu.due_list")}
        for user in waiting
        if choices[user.id] == DELIVERY_DAILY
    ]
    if daily:
        db.session.execute(insert(PendingDigestItem), daily)
    db.session.execute(insert(DigestSent), [{"user_id": user.id, "week_of": week, "sent_at": now} for user in waiting])
    try:
        db.session.commit()
    except IntegrityError:  # another run sent this week's digest meanwhile
        db.session.rollback()
        return 0
    return len(waiting)


# -- chasing from the due list ------------------------------------------------------------------------


@dataclass
class ChaseResult:
    chased: list[due.DueItem] = field(default_factory=list)
    mails: int = 0
    unreachable: list[due.DueItem] = field(default_factory=list)
    already_today: int = 0  # people chased about the same return earlier today: not mailed twice

    @property
    def summary(self) -> str:
        returns = len(self.chased)
        text = f"Chase sent: {self.mails} email{'s' if self.mails != 1 else ''} about {returns} return" + (
            "s." if returns != 1 else "."
        )
        if self.already_today:
            text += f" {self.already_today} already chased about the same return today were not sent it again."
        return text


def chase(items: list[due.DueItem], *, by: User, now: datetime | None = None) -> ChaseResult:
    """Queue a chase to each active partner user of each return's organisation, audited (flushed only)."""
    now = now or utcnow()
    today = uk_today(now)
    result = ChaseResult()
    ids = {item.project.id for item in items}
    deliveries = {delivery.project.id: delivery for delivery in due.open_deliveries(now, ids)}
    planned = [
        Planned(item.project.id, item.quarter, user.id, user.email, MAIL_KIND_CHASE, today)
        for item in items
        for user in item.contacts
    ]
    done = _done([plan.key for plan in planned])
    result.already_today = len(done)
    waiting = [plan for plan in planned if plan.key not in done]
    mails: Rendered = {}
    for item in items:
        if not item.reachable:
            result.unreachable.append(item)
            continue
        people = [plan for plan in waiting if (plan.project_id, plan.quarter) == (item.project.id, item.quarter)]
        if people:
            mails[people[0].mail_key] = reminder_mail(deliveries[item.project.id], item.quarter, MAIL_KIND_CHASE)
            _audit_chase(item, [plan.to for plan in people], by=by)
            result.chased.append(item)
    _queue_batch(waiting, mails, now, by=by)
    result.mails = len(waiting)
    db.session.flush()
    return result


def _audit_chase(item: due.DueItem, to: list[str], *, by: User) -> None:
    audit.record(
        "project.return_chased",
        object_type="project",
        object_id=item.project.id,
        summary=f"Chased the Q{item.quarter} {item.project.year.label} return of {item.project.name} "
        f"({item.days_overdue} days overdue): mailed {len(to)} people",
        actor=by,
        organisation_id=item.project.organisation_id,
        details={"quarter": item.quarter, "to": to, "days_overdue": item.days_overdue},
    )


def chase_previews(items: list[due.DueItem], now: datetime | None = None) -> list[tuple[due.DueItem, str, str]]:
    """Each selected return with the subject and plain text of the chase its people would get."""
    ids = {item.project.id for item in items}
    deliveries = {delivery.project.id: delivery for delivery in due.open_deliveries(now or utcnow(), ids)}
    previews = []
    for item in items:
        subject, (text, _html) = reminder_mail(deliveries[item.project.id], item.quarter, MAIL_KIND_CHASE)
        previews.append((item, subject, text))
    return previews


def selected(items: list[due.DueItem], keys: list[str]) -> list[due.DueItem]:
    """The items a form's values name, in the list's order."""
    wanted = set(keys)
    return [item for item in items if item.key in wanted]
