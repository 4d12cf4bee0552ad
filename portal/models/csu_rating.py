"""The CSU's own traffic-light rating of a project for a quarter, beside the partner's and the computed one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .project import Project
from .types import UTCDateTime, utcnow
from .user import User
from .vocabulary import RAGS, sql_in


class CsuRating(Model):
    __tablename__ = "csu_rating"
    __table_args__ = (
        UniqueConstraint("project_id", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        CheckConstraint(sql_in("rag", RAGS), name="rag_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    quarter: Mapped[int] = mapped_column(Integer)
    rag: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    set_by: Mapped[User | None] = relationship()
