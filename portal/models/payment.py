"""Payments made against a project's award; a mistake is reversed, never deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ColumnElement, Date, ForeignKey, String, Text, case
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .project import Project
from .types import Pence, UTCDateTime, utcnow
from .user import User
from .vocabulary import sql_in

PAYMENT = "payment"
REVERSAL = "reversal"


class Payment(Model):
    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint(sql_in("kind", (PAYMENT, REVERSAL)), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=PAYMENT)
    amount_pence: Mapped[int] = mapped_column(Pence)
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

    def can_change(self, user: User) -> bool:
        """Reversing a payment is finance's, as recording it was."""
        return self.project.can_keep_ledger(user)

    @hybrid_property
    def signed_pence(self) -> int:
        """What the entry does to the amount paid: a payment adds, a reversal takes away. *Paid* is their sum."""
        return self.amount_pence if self.kind == PAYMENT else -self.amount_pence

    @signed_pence.inplace.expression
    @classmethod
    def _signed_pence_expression(cls) -> ColumnElement[int]:
        return case((cls.kind == PAYMENT, cls.amount_pence), else_=-cls.amount_pence)
