"""Each project's overview figures as last computed: a copy kept in step with every write that changes one, so
the CSU overview can filter, sort, total and page in SQL. Never typed, never a second definition: the figures are
written only by services/summary.py from services/delivery.py."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .project import Project
from .types import Pence, UTCDateTime
from .vocabulary import NOT_OPEN_LABEL, NOT_REQUIRED_LABEL, OVERDUE_LABEL, QUARTERS, STATUS_LABELS

PERCENT = Numeric(14, 1)
QUARTER_FIELDS = ("status", "reported", "open", "overdue", "not_required")


def quarter_word(status: str, *, reported: bool, not_required: bool, overdue: bool, open: bool) -> str:
    """The one word that sums up a quarter, as its tags show it: Overdue and Not required win over the return's own
    status until it is reported. Asked of a ProjectDelivery and of its summary row alike."""
    if reported:
        return STATUS_LABELS[status]
    if not_required:
        return NOT_REQUIRED_LABEL
    if overdue:
        return OVERDUE_LABEL
    if not open:
        return NOT_OPEN_LABEL
    return STATUS_LABELS[status]


class ProjectSummary(Model):
    """One row per project (so per project and financial year): its row of the CSU overview."""

    __tablename__ = "project_summary"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_year.id"), index=True)
    award_pence: Mapped[int] = mapped_column(Pence)
    paid_pence: Mapped[int] = mapped_column(Pence)
    reported_spend_pence: Mapped[int] = mapped_column(Pence)
    spend_pct_of_award: Mapped[Decimal | None] = mapped_column(PERCENT)
    spend_pct_of_profile: Mapped[Decimal | None] = mapped_column(PERCENT)
    delivery_pct: Mapped[Decimal | None] = mapped_column(PERCENT)
    delivery_rag: Mapped[str | None] = mapped_column(String(10))
    spend_rag: Mapped[str | None] = mapped_column(String(10))
    partner_rag: Mapped[str | None] = mapped_column(String(10))
    csu_rag: Mapped[str | None] = mapped_column(String(10))
    # Each quarter as its tags show it: the return's status, and whether it is reported, open, overdue, and
    # whether the CSU marked its return not required.
    q1_status: Mapped[str] = mapped_column(String(20))
    q2_status: Mapped[str] = mapped_column(String(20))
    q3_status: Mapped[str] = mapped_column(String(20))
    q4_status: Mapped[str] = mapped_column(String(20))
    q1_reported: Mapped[bool] = mapped_column(Boolean)
    q2_reported: Mapped[bool] = mapped_column(Boolean)
    q3_reported: Mapped[bool] = mapped_column(Boolean)
    q4_reported: Mapped[bool] = mapped_column(Boolean)
    q1_open: Mapped[bool] = mapped_column(Boolean)
    q2_open: Mapped[bool] = mapped_column(Boolean)
    q3_open: Mapped[bool] = mapped_column(Boolean)
    q4_open: Mapped[bool] = mapped_column(Boolean)
    q1_overdue: Mapped[bool] = mapped_column(Boolean)
    q2_overdue: Mapped[bool] = mapped_column(Boolean)
    q3_overdue: Mapped[bool] = mapped_column(Boolean)
    q4_overdue: Mapped[bool] = mapped_column(Boolean)
    q1_not_required: Mapped[bool] = mapped_column(Boolean)
    q2_not_required: Mapped[bool] = mapped_column(Boolean)
    q3_not_required: Mapped[bool] = mapped_column(Boolean)
    q4_not_required: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The figures that hang on today's date (a quarter opening, a return falling overdue, and with them the
    # targets and profile to date) hold until this instant; a read at or after it computes the row again.
    # None: nothing left to change with the date.
    stale_after: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()

    # The same questions the overview's quarter tags ask of a ProjectDelivery (templates/macros/rag.html).

    def _quarter(self, field: str, quarter: int):
        return getattr(self, f"q{quarter}_{field}")

    def status(self, quarter: int) -> str:
        return self._quarter("status", quarter)

    def status_label(self, quarter: int) -> str:
        return STATUS_LABELS[self.status(quarter)]

    def is_reported(self, quarter: int) -> bool:
        return self._quarter("reported", quarter)

    def is_open(self, quarter: int) -> bool:
        return self._quarter("open", quarter)

    def is_overdue(self, quarter: int) -> bool:
        return self._quarter("overdue", quarter)

    def is_not_required(self, quarter: int) -> bool:
        return self._quarter("not_required", quarter)

    def status_word(self, quarter: int) -> str:
        return quarter_word(
            self.status(quarter),
            reported=self.is_reported(quarter),
            not_required=self.is_not_required(quarter),
            overdue=self.is_overdue(quarter),
            open=self.is_open(quarter),
        )

    @property
    def missing_quarters(self) -> list[int]:
        """Due and not reported: counted as nothing delivered (ProjectDelivery.missing_quarters)."""
        return [quarter for quarter in QUARTERS if self.is_overdue(quarter)]

    def __repr__(self) -> str:
        return f"<ProjectSummary project={self.project_id}>"
