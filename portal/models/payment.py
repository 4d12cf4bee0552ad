"""Payments made against a project's award; a mistake is reversed, never deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .project import Project
from .types import UTCDateTime, utcnow
from .user import User

PAYMENT = "payment"
REVERSAL = "reversal"


class Payment(Model):
    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("kind IN ('payment', 'reversal')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=PAYMENT)
    amount_pence: Mapped[int] = mapped_column(Integer)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    # Why: required for a reversal, and for a payment that takes the total paid past the award.
    reason: Mapped[str | None] = mapped_column(Text)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship()
    recorded_by: Mapped[User | None] = relationship()

    @property
    def signed_pence(self) -> int:
        return self.amount_pence if self.kind == PAYMENT else -self.amount_pence
