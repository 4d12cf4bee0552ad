"""Notifications waiting for a person's daily summary: one line and a link each, never a return's text."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .vocabulary import OPTIONAL_MAIL_KINDS, sql_in


class PendingDigestItem(Model):
    """One event for someone who chose a daily summary of its kind; summarised once, then kept as a record."""

    __tablename__ = "pending_digest_item"
    __table_args__ = (
        CheckConstraint(sql_in("kind", OPTIONAL_MAIL_KINDS), name="kind_optional"),
        Index("ix_pending_digest_item_user_id_summarised_on", "user_id", "summarised_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The UK day of the summary that carried it (None: still waiting), and that summary's outbox message
    # (None once summarised: the person was deactivated meanwhile, so nothing was sent).
    summarised_on: Mapped[date | None] = mapped_column(Date)
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"))

    @property
    def is_waiting(self) -> bool:
        return self.summarised_on is None

    def __repr__(self) -> str:
        return f"<PendingDigestItem {self.user_id} {self.kind}>"
