"""Reminders, chases and digests sent: each row is written with its mail, so nothing is sent twice."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .user import CSU, User
from .vocabulary import REMINDER_MAIL_KINDS, sql_in


class ReminderSent(Model):
    """One reminder (or chase) about one quarter's return to one person, for one occasion.

    The occasion is the day the reminder belongs to (7 days before the due date, the day after it, each
    week after that; a chase's day). The unique key makes a second insert for the same occasion fail, and
    the row commits in the same transaction as the queued mail: a rerun or a second runner skips it.
    """

    __tablename__ = "reminder_sent"
    __table_args__ = (
        UniqueConstraint("project_id", "quarter", "user_id", "kind", "occasion", name="uq_reminder_sent_once"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        CheckConstraint(sql_in("kind", REMINDER_MAIL_KINDS), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    quarter: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    occasion: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # queued in the outbox, same transaction
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # who chased; none for the daily reminders

    @staticmethod
    def can_chase(user: User) -> bool:
        """Chasing partners from the due list is the CSU's: finance and admin read the list."""
        return user.has_role(CSU)

    def __repr__(self) -> str:
        return f"<ReminderSent {self.kind} {self.project_id} Q{self.quarter} user {self.user_id} {self.occasion}>"


class DigestSent(Model):
    """The CSU's weekly digest to one person for one week (the Monday that starts it): at most once."""

    __tablename__ = "digest_sent"
    __table_args__ = (UniqueConstraint("user_id", "week_of", name="uq_digest_sent_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    week_of: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
