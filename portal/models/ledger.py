"""Changes to a project's award, and its planned payment instalments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .project import Project
from .types import Pence, UTCDateTime, utcnow
from .user import User


class AwardVariation(Model):
    """A change of award: from, to, why, who and when. Never updated or deleted."""

    __tablename__ = "award_variation"
    __table_args__ = (
        CheckConstraint("from_pence >= 0 AND to_pence >= 0", name="amounts_not_negative"),
        CheckConstraint("from_pence <> to_pence", name="is_a_change"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    from_pence: Mapped[int] = mapped_column(Pence)
    to_pence: Mapped[int] = mapped_column(Pence)
    reason: Mapped[str] = mapped_column(Text)
    varied_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    varied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship()
    varied_by: Mapped[User | None] = relationship()

    @property
    def change_pence(self) -> int:
        return self.to_pence - self.from_pence


class PaymentInstalment(Model):
    """A planned payment; it is held until the return it depends on is approved."""

    __tablename__ = "payment_instalment"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("after_quarter IS NULL OR after_quarter BETWEEN 1 AND 4", name="quarter_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    amount_pence: Mapped[int] = mapped_column(Pence)
    due_on: Mapped[date | None] = mapped_column(Date)
    # Paid only once this quarter's return is approved (None: no condition).
    after_quarter: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship()

    def can_change(self, user: User) -> bool:
        """The schedule is finance's plan: the CSU reads it."""
        return self.project.can_keep_ledger(user)
