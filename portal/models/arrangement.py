"""The CSU's arrangement for one quarter's return: a later due date, or the return not required at all."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .project import Project
from .types import UTCDateTime, utcnow
from .user import User
from .vocabulary import EXTENDED, NOT_REQUIRED


class ReturnArrangement(Model):
    """One row per project and quarter at most; no row means the year's usual due date."""

    __tablename__ = "return_arrangement"
    __table_args__ = (
        UniqueConstraint("project_id", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        # Either an extension (a date) or a waiver (no date), never both and never neither.
        CheckConstraint(
            "(not_required AND due_on IS NULL) OR (NOT not_required AND due_on IS NOT NULL)",
            name="extended_or_not_required",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    quarter: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date | None] = mapped_column(Date)
    not_required: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    set_by: Mapped[User | None] = relationship()

    @property
    def kind(self) -> str:
        return NOT_REQUIRED if self.not_required else EXTENDED

    def __repr__(self) -> str:
        return f"<ReturnArrangement project={self.project_id} Q{self.quarter} {self.kind}>"
