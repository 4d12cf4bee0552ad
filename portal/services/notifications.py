"""Telling people what happened: a return submitted, sent back, approved or reopened, a payment recorded.

Each notice is written in the transaction of its event (a rolled-back event tells no one), to the people
it concerns only, as each person chose: a message now, a line in tomorrow's daily summary, or nothing.
A notice says what happened to which project and quarter and links to the page; it carries none of a
return's text. The CSU's comment or reason is included: it is the CSU's message to the partner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from ..calendar import day_text, uk_today
from ..extensions import db
from ..models import MonitoringReturn, OutboxMessage, Payment, PendingDigestItem, User, UserRole
from ..models.types import utcnow
from ..models.user import CSU, PARTNER
from ..models.vocabulary import (
    DELIVERY_DAILY,
    DELIVERY_EACH,
    MAIL_KIND_DAILY_SUMMARY,
    MAIL_KIND_LABELS,
    MAIL_KIND_PAYMENT_RECORDED,
    MAIL_KIND_RETURN_APPROVED,
    MAIL_KIND_RETURN_REOPENED,
    MAIL_KIND_RETURN_SENT_BACK,
    MAIL_KIND_RETURN_SUBMITTED,
)
from ..money import format_pence
from .mail import public_url, queue_mail, render_mail
from .preferences import deliveries_for

SUBJECT_LIMIT = 200


@dataclass(frozen=True)
class Notice:
    """One event, as every recipient reads it: never a return's narrative."""

    kind: str
    headline: str  # what happened, to what: the subject, and the line in a daily summary
    facts: tuple[tuple[str, str], ...]  # label and value: organisation, project, quarter, amount
    link: str
    link_text: str
    message_label: str | None = None  # the CSU's own words to the partner, when the event has them
    message: str | None = None


# -- who hears about what -------------------------------------------------------------------------


def csu_users() -> list[User]:
    """Everyone active with the CSU role."""
    return list(
        db.session.scalars(
            select(User).join(UserRole).where(UserRole.role == CSU, User.active.is_(True)).order_by(User.email)
        )
    )


def partner_users(organisation_id: int) -> list[User]:
    """The organisation's active partner users, and no one else's."""
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole)
            .where(UserRole.role == PARTNER, User.active.is_(True), User.organisation_id == organisation_id)
            .order_by(User.email)
        )
    )


# -- the events -----------------------------------------------------------------------------------


def _return_facts(mreturn: MonitoringReturn) -> tuple[tuple[str, str], ...]:
    project = mreturn.project
    return (
        ("Organisation", project.organisation.name),
        ("Project", project.name),
        ("Quarter", _quarter(mreturn)),
    )


def _quarter(mreturn: MonitoringReturn) -> str:
    return f"{mreturn.project.year.label} Q{mreturn.quarter}"


def _partner_link(mreturn: MonitoringReturn) -> str:
    return public_url("partner.return_overview", project_id=mreturn.project_id, quarter=mreturn.quarter)


def notify_return_submitted(mreturn: MonitoringReturn) -> None:
    """To the CSU: a return is waiting for review."""
    project = mreturn.project
    notice = Notice(
        MAIL_KIND_RETURN_SUBMITTED,
        f"{project.organisation.short_name} submitted the {_quarter(mreturn)} return for {project.name}",
        _return_facts(mreturn),
        public_url("csu.return_review", return_id=mreturn.id),
        "Review the return",
    )
    notify(csu_users(), notice)


def notify_return_sent_back(mreturn: MonitoringReturn, comment: str) -> None:
    """To the partner: the CSU asks for changes, in its own words."""
    notice = Notice(
        MAIL_KIND_RETURN_SENT_BACK,
        f"Changes requested to the {_quarter(mreturn)} return for {mreturn.project.name}",
        _return_facts(mreturn),
        _partner_link(mreturn),
        "Change the return",
        "The Community Safety Unit's comment",
        comment,
    )
    notify(partner_users(mreturn.project.organisation_id), notice)


def notify_return_approved(mreturn: MonitoringReturn) -> None:
    """To the partner: the return is approved."""
    notice = Notice(
        MAIL_KIND_RETURN_APPROVED,
        f"The {_quarter(mreturn)} return for {mreturn.project.name} was approved",
        _return_facts(mreturn),
        _partner_link(mreturn),
        "See the return",
    )
    notify(partner_users(mreturn.project.organisation_id), notice)


def notify_return_reopened(mreturn: MonitoringReturn, reason: str) -> None:
    """To the partner: an approved return is open for changes again, and why."""
    notice = Notice(
        MAIL_KIND_RETURN_REOPENED,
        f"The {_quarter(mreturn)} return for {mreturn.project.name} was reopened for changes",
        _return_facts(mreturn),
        _partner_link(mreturn),
        "Change the return",
        "The Community Safety Unit's reason",
        reason,
    )
    notify(partner_users(mreturn.project.organisation_id), notice)


def notify_payment_recorded(payment: Payment) -> None:
    """To the partner: a payment against the project's award (its amount and date, not finance's notes)."""
    project = payment.project
    amount = format_pence(payment.amount_pence)
    notice = Notice(
        MAIL_KIND_PAYMENT_RECORDED,
        f"A payment of {amount} was recorded for {project.name}",
        (
            ("Organisation", project.organisation.name),
            ("Project", project.name),
            ("Year", project.year.label),
            ("Amount", amount),
            ("Date paid", day_text(payment.paid_on)),
        ),
        public_url("partner.project_view", project_id=project.id),
        "See the project's payments",
    )
    notify(partner_users(project.organisation_id), notice)


# -- delivering a notice as each person chose -----------------------------------------------------


def preferences_link() -> str:
    """Where every notice and summary points for choosing which mail arrives."""
    return public_url("auth.account_mail")


def notify(recipients: Sequence[User], notice: Notice) -> None:
    """Queue a message now, keep a line for the daily summary, or nothing, per person. Flushes."""
    deliveries = deliveries_for(recipients, notice.kind)
    parts: tuple[str, str] | None = None
    for user in recipients:
        delivery = deliveries[user.id]
        if delivery == DELIVERY_EACH:
            parts = parts or render_mail(
                "notification", notice=notice, kind_label=MAIL_KIND_LABELS[notice.kind], **_footer()
            )
            queue_mail(user.email, kind=notice.kind, subject=notice.headline[:SUBJECT_LIMIT], parts=parts)
        elif delivery == DELIVERY_DAILY:
            db.session.add(
                PendingDigestItem(user_id=user.id, kind=notice.kind, text=notice.headline[:500], link=notice.link)
            )
    db.session.flush()


def _footer() -> dict[str, str]:
    return {"preferences_link": preferences_link()}


# -- the daily summary ----------------------------------------------------------------------------


@dataclass
class SummaryReport:
    sent: int = 0  # summaries queued
    items: int = 0  # lines in them
    deferred: int = 0  # people who already had today's summary: theirs waits for tomorrow
    dropped: int = 0  # lines for people deactivated since: nothing sent

    @property
    def text(self) -> str:
        return (
            f"{self.sent} daily summaries queued ({self.items} notices); {self.deferred} waiting for tomorrow; "
            f"{self.dropped} dropped for deactivated accounts"
        )


def summarise(*, now: datetime | None = None) -> SummaryReport:
    """One summary mail per person per UK day of what waits for them; commits per person, so a run that
    stops half-way, or runs again, sends nobody a summary twice."""
    moment = now or utcnow()
    today = uk_today(moment)
    report = SummaryReport()
    waiting = db.session.scalars(
        select(PendingDigestItem.user_id).where(PendingDigestItem.summarised_on.is_(None)).distinct()
    ).all()
    db.session.commit()
    for user_id in sorted(waiting):
        _summarise_one(user_id, today, report)
        db.session.commit()
    return report


def _summarise_one(user_id: int, today: date, report: SummaryReport) -> None:
    # The person's row lock serialises two runs for the same person (SQLite: the write lock does).
    user = db.session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        return
    if _summarised_on(user_id, today):
        report.deferred += 1
        return
    items = list(
        db.session.scalars(
            select(PendingDigestItem)
            .where(PendingDigestItem.user_id == user_id, PendingDigestItem.summarised_on.is_(None))
            .order_by(PendingDigestItem.created_at, PendingDigestItem.id)
        )
    )
    message: OutboxMessage | None = None
    if not user.active:
        report.dropped += len(items)
    elif items:
        message = _queue_summary(user, items, today)
        report.sent += 1
        report.items += len(items)
    for item in items:
        item.summarised_on = today
        item.outbox_message_id = message.id if message else None


def _summarised_on(user_id: int, today: date) -> bool:
    return (
        db.session.scalar(
            select(PendingDigestItem.id)
            .where(
                PendingDigestItem.user_id == user_id,
                PendingDigestItem.summarised_on == today,
                PendingDigestItem.outbox_message_id.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def _queue_summary(user: User, items: list[PendingDigestItem], today: date) -> OutboxMessage:
    groups: dict[str, list[PendingDigestItem]] = {}
    for item in items:
        groups.setdefault(MAIL_KIND_LABELS[item.kind], []).append(item)
    parts = render_mail("daily_summary", groups=groups, day=today, count=len(items), **_footer())
    subject = f"Your daily summary for {day_text(today)}: {len(items)} {'notice' if len(items) == 1 else 'notices'}"
    return queue_mail(user.email, kind=MAIL_KIND_DAILY_SUMMARY, subject=subject, parts=parts)
