"""Financial years, their funding streams and strategic priorities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ColumnElement, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..calendar import Quarter, quarters_of
from ..extensions import Model
from .types import Pence, UTCDateTime
from .user import ADMIN, LEDGER_KEEPERS, SETS_UP, User


class FinancialYear(Model):
    """1 April – 31 March, labelled like 2021-22; quarters and due dates are derived."""

    __tablename__ = "financial_year"
    __table_args__ = (
        CheckConstraint("return_due_days BETWEEN 0 AND 120", name="due_days_range"),
        CheckConstraint("start_year BETWEEN 2000 AND 2200", name="start_year_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    start_year: Mapped[int] = mapped_column(Integer, unique=True)
    return_due_days: Mapped[int] = mapped_column(Integer, default=14)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    illustrative_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    funding_streams: Mapped[list[FundingStream]] = relationship(back_populates="year", order_by="FundingStream.name")
    priorities: Mapped[list[Priority]] = relationship(back_populates="year", order_by="Priority.rank")

    @hybrid_property
    def is_closed(self) -> bool:
        """Closed at year end: its awards, payments, returns and ratings are read-only until reopened."""
        return self.closed_at is not None

    @is_closed.inplace.expression
    @classmethod
    def _is_closed_expression(cls) -> ColumnElement[bool]:
        return cls.closed_at.is_not(None)

    @staticmethod
    def can_create(user: User) -> bool:
        """The CSU and administrators set years up; finance reads their set-up."""
        return user.has_role(*SETS_UP)

    def can_set_up(self, user: User) -> bool:
        """Change the year's set-up: its streams, priorities, projects and measures (while it is open)."""
        return FinancialYear.can_create(user)

    def setup_is_editable_by(self, user: User) -> bool:
        """What the set-up pages offer: their forms, while the year is open."""
        return self.can_set_up(user) and not self.is_closed

    def can_close(self, user: User) -> bool:
        return user.has_role(*LEDGER_KEEPERS)

    def can_reopen(self, user: User) -> bool:
        """Reopening a closed year undoes finance's year end: only an administrator may."""
        return user.has_role(ADMIN)

    @property
    def label(self) -> str:
        return f"{self.start_year}-{(self.start_year + 1) % 100:02d}"

    @property
    def quarters(self) -> list[Quarter]:
        return quarters_of(self.start_year, self.return_due_days)

    def quarter(self, number: int) -> Quarter:
        return self.quarters[number - 1]

    def __repr__(self) -> str:
        return f"<FinancialYear {self.label}>"


class FundingStream(Model):
    """A pot of money for one year from one funder."""

    __tablename__ = "funding_stream"
    __table_args__ = (
        UniqueConstraint("year_id", "name"),
        CheckConstraint("amount_pence >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_year.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    funder: Mapped[str] = mapped_column(String(200))
    amount_pence: Mapped[int] = mapped_column(Pence)

    year: Mapped[FinancialYear] = relationship(back_populates="funding_streams")

    def can_set_up(self, user: User) -> bool:
        return self.year.can_set_up(user)


class Priority(Model):
    """A strategic priority of the year, ranked as in the strategic assessment."""

    __tablename__ = "priority"
    __table_args__ = (UniqueConstraint("year_id", "name"), CheckConstraint("rank >= 1", name="rank_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_year.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    rank: Mapped[int] = mapped_column(Integer)

    year: Mapped[FinancialYear] = relationship(back_populates="priorities")

    def can_set_up(self, user: User) -> bool:
        return self.year.can_set_up(user)
