"""Mail through the outbox: queued in the transaction of the event that causes it, delivered by the worker.

`queue_mail` only adds a row: a rolled-back change sends nothing, and nothing is lost while the mail server
is down. `deliver_due` (run by `flask mail deliver`) claims one message at a time, committing the claim
before speaking SMTP and the outcome after, so a message is never sent twice by the worker: one found
still "sending" from a worker that stopped is flagged "not known whether sent" for an administrator.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, render_template
from sqlalchemy import func, insert, select

from .. import smtp
from ..extensions import db
from ..models import OutboxMessage, User
from ..models.types import utcnow
from ..models.vocabulary import (
    MAIL_FAILED,
    MAIL_KIND_LABELS,
    MAIL_QUEUED,
    MAIL_SEND_AGAIN_STATUSES,
    MAIL_SENDING,
    MAIL_SENT,
    MAIL_STATUS_LABELS,
    MAIL_UNKNOWN,
)
from . import audit

log = logging.getLogger(__name__)
ABANDONED = "The worker stopped while sending: the mail server may or may not have this message"


class MailError(ValueError):
    pass


# -- writing mail -------------------------------------------------------------------------------


def public_url(endpoint: str, **values: object) -> str:
    """An absolute link for mail on PUBLIC_URL, whatever Host header a request arrived with."""
    parts = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def render_mail(template: str, **context: object) -> tuple[str, str]:
    """The plain-text and HTML parts from mail/<template>.txt and .html (the HTML autoescaped)."""
    context = {"service_name": current_app.config["SERVICE_NAME"], **context}
    return render_template(f"mail/{template}.txt", **context), render_template(f"mail/{template}.html", **context)


def queue_mail(to: str, *, kind: str, subject: str, parts: tuple[str, str]) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction (flushed, not committed)."""
    message = _outbox_message(to, kind, subject, parts)
    db.session.add(message)
    db.session.flush()
    return message


@dataclass(frozen=True)
class Mail:
    to: str
    kind: str
    subject: str
    parts: tuple[str, str]


def queue_mails(mails: list[Mail]) -> None:
    """queue_mail for many messages in one INSERT (an executemany), in the caller's transaction."""
    if not mails:
        return
    rows = []
    for mail in mails:
        message = _outbox_message(mail.to, mail.kind, mail.subject, mail.parts)
        rows.append({column: getattr(message, column) for column in QUEUED_COLUMNS})
    db.session.execute(insert(OutboxMessage), rows)


QUEUED_COLUMNS = ("kind", "to_address", "subject", "text_body", "html_body", "next_attempt_at")


def _outbox_message(to: str, kind: str, subject: str, parts: tuple[str, str]) -> OutboxMessage:
    if any(char in to + subject for char in "\r\n"):
        raise MailError("an address or subject cannot contain a line break")
    text, html = parts
    return OutboxMessage(
        kind=kind, to_address=to, subject=subject, text_body=text, html_body=html, next_attempt_at=utcnow()
    )


def send_again(message: OutboxMessage, *, by: User) -> None:
    """An administrator's deliberate choice to send a failed or uncertain message once more."""
    if message.status not in MAIL_SEND_AGAIN_STATUSES:
        raise MailError("Only a message that was not sent, or not known to be sent, can be sent again")
    before = message.status
    message.status = MAIL_QUEUED
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.claim_token = None
    message.claimed_at = None
    _audit(message, "mail.sent_again", "Sent again by an administrator", actor=by, before=before)


def outbox(*, limit: int) -> tuple[list[OutboxMessage], dict[str, int]]:
    """The newest messages, and how many there are in each status."""
    messages = db.session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    )
    counts = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return list(messages), {status: count for status, count in counts}


# -- delivering mail ----------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    configured: bool = True
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0  # sends that broke half-way, and messages a stopped worker left "sending"

    @property
    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, {self.unknown} not known whether sent"
        )


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after the n-th refused attempt, capped."""
    cfg = current_app.config
    seconds = cfg["MAIL_RETRY_BASE_SECONDS"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, cfg["MAIL_RETRY_CAP_SECONDS"]))


def deliver_due(*, now: datetime | None = None, limit: int | None = None) -> DeliveryReport:
    """Send what is due, one message at a time; commits after each step. No MAIL_SERVER: does nothing."""
    settings = smtp.SmtpSettings.from_config(current_app.config)
    if settings is None:
        return DeliveryReport(configured=False)
    report = DeliveryReport(unknown=flag_abandoned(now or utcnow()))
    for _ in range(limit or current_app.config["MAIL_BATCH_SIZE"]):
        claim = claim_next(now or utcnow())
        if claim is None:
            break
        _attempt(settings, claim, report, now)
    return report


@dataclass(frozen=True)
class Claim:
    """What a worker needs to send a claimed message, read before the claim commits (no lazy load during SMTP)."""

    message_id: int
    token: str
    to: str
    subject: str
    text: str
    html: str
    created_at: datetime


def claim_next(now: datetime) -> Claim | None:
    """Take the next due message for this worker and commit "sending" before any SMTP is spoken.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so two workers never take the same row. SQLite: the worker's
    transaction begins IMMEDIATE (portal/database.py), so writers take turns and the second sees "sending".
    """
    message = db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.status == MAIL_QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    claim = None
    if message is not None:
        message.status = MAIL_SENDING
        message.claim_token = secrets.token_hex(16)
        message.claimed_at = now
        message.attempts += 1
        claim = Claim(
            message.id,
            message.claim_token,
            message.to_address,
            message.subject,
            message.text_body,
            message.html_body,
            message.created_at,
        )
    db.session.commit()  # also ends the transaction, so no database lock is held while SMTP is spoken
    return claim


def _attempt(settings: smtp.SmtpSettings, claim: Claim, report: DeliveryReport, now: datetime | None) -> None:
    try:
        smtp.send(settings, _email_of(settings, claim))
    except smtp.NotSent as error:
        if _refused(claim, str(error), now or utcnow()):
            report.failed += 1
        else:
            report.retrying += 1
    except smtp.MaybeSent as error:
        _outcome_unknown(claim, str(error))
        report.unknown += 1
    else:
        _mark_sent(claim, now or utcnow())
        report.sent += 1


def _email_of(settings: smtp.SmtpSettings, claim: Claim):
    domain = smtp.envelope_address(settings.sender).rpartition("@")[2] or "localhost"
    return smtp.build_message(
        sender=settings.sender,
        to=claim.to,
        subject=claim.subject,
        text=claim.text,
        html=claim.html,
        # The same on every attempt, so a mail client can tell a deliberate resend is one message.
        message_id=f"<outbox-{claim.message_id}-{claim.created_at:%Y%m%d%H%M%S}@{domain}>",
    )


def _still_ours(claim: Claim) -> OutboxMessage | None:
    """The claimed row, unless an administrator has queued it again since (then it is not ours to settle)."""
    message = db.session.get(OutboxMessage, claim.message_id, with_for_update=True)
    return message if message is not None and message.claim_token == claim.token else None


def _mark_sent(claim: Claim, now: datetime) -> None:
    message = _still_ours(claim)
    if message is not None:
        message.status = MAIL_SENT  # from "sending", or from "not known" if a slow send finished after all
        message.sent_at = now
        message.last_error = None
        message.claim_token = None
        _audit(message, "mail.sent", "Sent")
    db.session.commit()


def _refused(claim: Claim, error: str, now: datetime) -> bool:
    """Back to the queue with back-off, or failed after the last attempt. True when it has failed."""
    message = _still_ours(claim)
    if message is None:
        db.session.commit()
        return False
    message.last_error = error[:500]
    message.claim_token = None
    gave_up = message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]
    if gave_up:
        message.status = MAIL_FAILED
        _audit(message, "mail.failed", f"Not sent after {message.attempts} attempts")
    else:
        message.status = MAIL_QUEUED
        message.next_attempt_at = now + retry_delay(message.attempts)
    log.warning("mail %s refused (attempt %s): %s", message.id, message.attempts, message.last_error)
    db.session.commit()
    return gave_up


def _outcome_unknown(claim: Claim, error: str) -> None:
    message = _still_ours(claim)
    if message is not None:
        message.status = MAIL_UNKNOWN
        message.last_error = error[:500]
        _audit(message, "mail.unknown", MAIL_STATUS_LABELS[MAIL_UNKNOWN])
        log.error("mail %s: connection lost during the send; not retried: %s", message.id, message.last_error)
    db.session.commit()


def flag_abandoned(now: datetime) -> int:
    """Messages left "sending" past the claim timeout by a worker that stopped: flagged, never resent here."""
    stale_before = now - timedelta(seconds=current_app.config["MAIL_CLAIM_TIMEOUT_SECONDS"])
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == MAIL_SENDING, OutboxMessage.claimed_at < stale_before)
        .with_for_update(skip_locked=True)
    ).all()
    for message in messages:
        # The claim token stays: should that worker still finish, its "sent" is recorded.
        message.status = MAIL_UNKNOWN
        message.last_error = ABANDONED
        _audit(message, "mail.unknown", MAIL_STATUS_LABELS[MAIL_UNKNOWN])
    db.session.commit()
    return len(messages)


def _audit(message: OutboxMessage, action: str, outcome: str, *, actor: User | None = None, **details) -> None:
    label = MAIL_KIND_LABELS.get(message.kind, message.kind)
    audit.record(
        action,
        object_type="outbox_message",
        object_id=message.id,
        summary=f"{label} to {message.to_address}: {outcome}",
        actor=actor,
        details={"kind": message.kind, "to": message.to_address, "attempts": message.attempts, **details},
    )
