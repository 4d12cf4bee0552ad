"""Projects (grants) and the output measures they report each quarter."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .organisation import Organisation
from .types import Pence, UTCDateTime
from .user import CSU, LEDGER_KEEPERS, PARTNER, User
from .vocabulary import COMBINE_SUM, COMBINES, DECIMAL_UNITS, sql_in
from .year import FinancialYear, FundingStream, Priority

QUANTITY = Numeric(12, 2)
PROFILE_COLUMNS = ("q1_profile_pence", "q2_profile_pence", "q3_profile_pence", "q4_profile_pence")


def unit_has_decimals(unit: str | None) -> bool:
    """The default for a measure whose decimals were not chosen: hours may have decimal places."""
    return (unit or "").strip().lower() in DECIMAL_UNITS


class Project(Model):
    """One organisation's grant for one year from one funding stream."""

    __tablename__ = "project"
    __table_args__ = (
        UniqueConstraint("organisation_id", "year_id", "name"),
        CheckConstraint("amount_pence >= 0", name="amount_not_negative"),
        # A spend profile has all four quarters or none (then the award ÷ 4 stands for each).
        CheckConstraint(
            f"({' AND '.join(f'{c} IS NULL' for c in PROFILE_COLUMNS)}) OR "
            f"({' AND '.join(f'{c} IS NOT NULL AND {c} >= 0' for c in PROFILE_COLUMNS)})",
            name="profile_complete_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_year.id"), index=True)
    funding_stream_id: Mapped[int] = mapped_column(ForeignKey("funding_stream.id"), index=True)
    priority_id: Mapped[int | None] = mapped_column(ForeignKey("priority.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    amount_pence: Mapped[int] = mapped_column(Pence)
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The planned spend in each quarter, in pence; optional.
    q1_profile_pence: Mapped[int | None] = mapped_column(Pence)
    q2_profile_pence: Mapped[int | None] = mapped_column(Pence)
    q3_profile_pence: Mapped[int | None] = mapped_column(Pence)
    q4_profile_pence: Mapped[int | None] = mapped_column(Pence)

    organisation: Mapped[Organisation] = relationship()
    year: Mapped[FinancialYear] = relationship()
    funding_stream: Mapped[FundingStream] = relationship()
    priority: Mapped[Priority | None] = relationship()
    measures: Mapped[list[OutputMeasure]] = relationship(back_populates="project", order_by="OutputMeasure.position")

    @property
    def spend_profile(self) -> list[int] | None:
        """The planned spend per quarter in pence, Q1 to Q4; None when the project has none."""
        quarters = [self.q1_profile_pence, self.q2_profile_pence, self.q3_profile_pence, self.q4_profile_pence]
        return None if any(pence is None for pence in quarters) else [int(pence or 0) for pence in quarters]

    @spend_profile.setter
    def spend_profile(self, quarters: list[int] | None) -> None:
        values: list[int | None] = list(quarters) if quarters else [None] * 4
        self.q1_profile_pence, self.q2_profile_pence, self.q3_profile_pence, self.q4_profile_pence = values

    def planned_spend_in(self, quarter: int) -> Decimal:
        """The planned spend in a quarter, exact: the profile's, or a quarter of the award (which may leave a
        fraction of a penny). The one definition the ledger's delivery figures and the return's spend rule use."""
        profile = self.spend_profile
        return Decimal(profile[quarter - 1]) if profile else Decimal(self.amount_pence) / 4

    def measures_in(self, reported_ids: Collection[int] | None = None) -> list[OutputMeasure]:
        """The measures a return asks for: every measure not retired, and a retired one only where a submitted
        return holds a figure for it (`reported_ids`: the measures it holds figures for)."""
        kept = set(reported_ids or ())
        return [measure for measure in self.measures if not measure.is_retired or measure.id in kept]

    def can_set_up(self, user: User) -> bool:
        return self.year.can_set_up(user)

    def can_view(self, user: User) -> bool:
        """Staff see every project; a partner only its own organisation's."""
        return user.can_see_all_organisations or (
            user.organisation_id is not None and user.organisation_id == self.organisation_id
        )

    def can_edit_returns(self, user: User) -> bool:
        """Only the project's own partner fills in its returns."""
        return user.is_partner_of(self.organisation_id)

    @classmethod
    def returns_editable_by(cls, user: User) -> ColumnElement[bool]:
        """can_edit_returns as a condition in SQL, for a statement that checks it itself (a draft's save)."""
        if not user.has_role(PARTNER) or user.organisation_id is None:
            return false()
        return cls.organisation_id == user.organisation_id

    def can_rate(self, user: User) -> bool:
        """The CSU's own rating is the CSU's: finance and admin read it."""
        return user.has_role(CSU)

    def can_arrange_returns(self, user: User) -> bool:
        """Extending a quarter's due date or waiving its return is the CSU's: finance and admin read it."""
        return user.has_role(CSU)

    def can_keep_ledger(self, user: User) -> bool:
        """Finance (and admin) record payments, variations and the schedule; the CSU reads them."""
        return user.has_role(*LEDGER_KEEPERS)

    def ledger_is_editable_by(self, user: User) -> bool:
        """What the finance page offers: the ledger's forms, while the year is open."""
        return self.can_keep_ledger(user) and not self.year.is_closed

    def __repr__(self) -> str:
        return f"<Project {self.name!r}>"


class OutputMeasure(Model):
    """What a project counts each quarter; totals are always computed, never typed."""

    __tablename__ = "output_measure"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint(sql_in("combine", COMBINES), name="combine_known"),
        CheckConstraint("annual_target IS NULL OR annual_target >= 0", name="target_not_negative"),
        CheckConstraint(
            "(q1_target IS NULL OR q1_target >= 0) AND (q2_target IS NULL OR q2_target >= 0) AND "
            "(q3_target IS NULL OR q3_target >= 0) AND (q4_target IS NULL OR q4_target >= 0)",
            name="quarter_targets_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(50))
    definition: Mapped[str | None] = mapped_column(Text)
    combine: Mapped[str] = mapped_column(String(10), default=COMBINE_SUM)
    annual_target: Mapped[Decimal | None] = mapped_column(QUANTITY)
    q1_target: Mapped[Decimal | None] = mapped_column(QUANTITY)
    q2_target: Mapped[Decimal | None] = mapped_column(QUANTITY)
    q3_target: Mapped[Decimal | None] = mapped_column(QUANTITY)
    q4_target: Mapped[Decimal | None] = mapped_column(QUANTITY)
    # Values with up to two decimal places (like hours), else whole numbers. Chosen in set-up; the unit's default.
    decimals: Mapped[bool] = mapped_column(Boolean, default=False)
    # Counts people (victims, referrals, children): published figures from 1 to the threshold are suppressed
    # (services/disclosure.py). Chosen in set-up.
    counts_people: Mapped[bool] = mapped_column(Boolean, default=False)
    # Retired: no longer asked for in new returns; its figures stay in the returns and tables that hold them.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship(back_populates="measures")

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("decimals", unit_has_decimals(fields.get("unit")))
        fields.setdefault("counts_people", False)
        super().__init__(**fields)

    @hybrid_property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    @is_retired.inplace.expression
    @classmethod
    def _is_retired_expression(cls) -> ColumnElement[bool]:
        return cls.retired_at.is_not(None)

    @property
    def allows_decimals(self) -> bool:
        """Up to two decimal places (hours, say), or whole counts: the measure's stored choice."""
        return self.decimals

    def can_set_up(self, user: User) -> bool:
        return self.project.year.can_set_up(user)

    @property
    def quarterly_targets(self) -> list[Decimal | None]:
        return [self.q1_target, self.q2_target, self.q3_target, self.q4_target]

    @quarterly_targets.setter
    def quarterly_targets(self, targets: list[Decimal | None] | None) -> None:
        targets = list(targets) if targets else [None] * 4
        self.q1_target, self.q2_target, self.q3_target, self.q4_target = targets
