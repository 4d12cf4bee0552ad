"""Mail waiting to be sent, written in the same transaction as the event that causes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .user import ADMIN, User
from .vocabulary import MAIL_KINDS, MAIL_QUEUED, MAIL_SEND_AGAIN_STATUSES, MAIL_STATUSES, sql_in


class OutboxMessage(Model):
    """One e-mail: its parts as rendered when queued, and where the worker has got to with it.

    A worker claims a message (status "sending", a claim token, committed) before it speaks to the mail
    server and marks it sent afterwards, so a worker that dies in between leaves a row that says so.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(sql_in("status", MAIL_STATUSES), name="status_known"),
        CheckConstraint(sql_in("kind", MAIL_KINDS), name="kind_known"),
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=MAIL_QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @staticmethod
    def can_read(user: User) -> bool:
        """Messages carry one-time links: only an administrator reads the outbox."""
        return user.has_role(ADMIN)

    def can_send_again(self, user: User) -> bool:
        return self.can_read(user) and self.status in MAIL_SEND_AGAIN_STATUSES

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"
