"""Quarterly monitoring returns, their measure values and immutable revisions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .project import QUANTITY, OutputMeasure, Project
from .types import Pence, UTCDateTime, utcnow
from .user import ADMIN, CSU, User
from .vocabulary import (
    APPROVED,
    DRAFT,
    EDITABLE_STATUSES,
    RAGS,
    REPORTED_STATUSES,
    STATUS_LABELS,
    STATUSES,
    SUBMITTED,
    sql_in,
)


def status_is_reported(status: str | None) -> bool:
    """A return in this status is reported: its figures count (a submitted one's provisionally)."""
    return status in REPORTED_STATUSES


def status_is_provisional(status: str | None) -> bool:
    """A return in this status is submitted and not yet approved: its figures are provisional."""
    return status == SUBMITTED


class MonitoringReturn(Model):
    """One project's return for one quarter; edited as a draft, then kept as revisions."""

    __tablename__ = "monitoring_return"
    __table_args__ = (
        UniqueConstraint("project_id", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        CheckConstraint("spend_pence IS NULL OR spend_pence >= 0", name="spend_not_negative"),
        CheckConstraint(sql_in("status", STATUSES), name="status_known"),
        CheckConstraint(sql_in("partner_rag", RAGS, nullable=True), name="partner_rag_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    quarter: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    spend_pence: Mapped[int | None] = mapped_column(Pence)
    spend_explanation: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(Text)
    case_study: Mapped[str | None] = mapped_column(Text)
    challenges: Mapped[str | None] = mapped_column(Text)
    partner_rag: Mapped[str | None] = mapped_column(String(10))
    partner_rag_reason: Mapped[str | None] = mapped_column(Text)
    review_comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The page (one open form) that saved last: its own autosave is never a conflict with it.
    last_editor: Mapped[str | None] = mapped_column(String(32))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Whether the narrative answers looked like personal data (services/personal_data.py) when last checked: on
    # submission, and whenever a submitted return's answers change after it (a redaction, retention). The review
    # queue reads this rather than scanning every listed return's text on every view.
    personal_data_found: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    project: Mapped[Project] = relationship()
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    values: Mapped[list[MeasureValue]] = relationship(back_populates="monitoring_return", cascade="all, delete-orphan")
    revisions: Mapped[list[ReturnRevision]] = relationship(
        back_populates="monitoring_return", order_by="ReturnRevision.number"
    )

    # Optimistic locking: a flush based on an older version raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}

    @hybrid_property
    def is_reported(self) -> bool:
        """Submitted or approved: its figures count (a submitted one's provisionally)."""
        return status_is_reported(self.status)

    @is_reported.inplace.expression
    @classmethod
    def _is_reported_expression(cls) -> ColumnElement[bool]:
        return cls.status.in_(REPORTED_STATUSES)

    @property
    def is_provisional(self) -> bool:
        """Submitted and not yet approved: its figures are shown marked as provisional."""
        return status_is_provisional(self.status)

    @property
    def awaits_review(self) -> bool:
        """Submitted and waiting for the CSU to approve it or send it back."""
        return self.status == SUBMITTED

    @property
    def is_approved(self) -> bool:
        return self.status == APPROVED

    @property
    def is_editable(self) -> bool:
        """A draft, or sent back for changes: the partner may still change it."""
        return self.status in EDITABLE_STATUSES

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def can_view(self, user: User) -> bool:
        return self.project.can_view(user)

    def can_review(self, user: User) -> bool:
        """Only the CSU approves, sends back or reopens a return; finance and admin may read it."""
        return user.has_role(CSU)

    def can_redact(self, user: User) -> bool:
        """The CSU or an admin may remove a passage from a submitted return's text for good."""
        return bool(self.revisions) and (user.has_role(CSU) or user.has_role(ADMIN))

    def value_of(self, measure_id: int) -> Decimal | None:
        return next((value.value for value in self.values if value.measure_id == measure_id), None)


class MeasureValue(Model):
    __tablename__ = "measure_value"
    __table_args__ = (
        UniqueConstraint("return_id", "measure_id"),
        CheckConstraint("value IS NULL OR value >= 0", name="value_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("monitoring_return.id"), index=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("output_measure.id"), index=True)
    value: Mapped[Decimal | None] = mapped_column(QUANTITY)

    monitoring_return: Mapped[MonitoringReturn] = relationship(back_populates="values")
    measure: Mapped[OutputMeasure] = relationship()


class ReturnRevision(Model):
    """What was submitted, exactly as submitted: never updated or deleted (the database refuses)."""

    __tablename__ = "return_revision"
    __table_args__ = (
        UniqueConstraint("return_id", "number"),
        CheckConstraint("spend_pence IS NULL OR spend_pence >= 0", name="spend_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("monitoring_return.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    values: Mapped[dict] = mapped_column(JSON)
    spend_pence: Mapped[int | None] = mapped_column(Pence)
    spend_explanation: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(Text)
    case_study: Mapped[str | None] = mapped_column(Text)
    challenges: Mapped[str | None] = mapped_column(Text)
    partner_rag: Mapped[str | None] = mapped_column(String(10))
    partner_rag_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Submitted although answers looked like personal data: the kinds found (never the matched text) and the
    # partner's reason why it is not. Both empty when nothing was found.
    personal_data_kinds: Mapped[list | None] = mapped_column(JSON)
    personal_data_reason: Mapped[str | None] = mapped_column(Text)

    monitoring_return: Mapped[MonitoringReturn] = relationship(back_populates="revisions")
    submitted_by: Mapped[User | None] = relationship()

    @classmethod
    def snapshot(
        cls,
        mreturn: MonitoringReturn,
        *,
        number: int,
        at: datetime,
        by_id: int | None,
        submission_key: str | None,
        personal_data_kinds: list[str] | None = None,
        personal_data_reason: str | None = None,
    ) -> ReturnRevision:
        """Exactly what the return says now: each measure's value by the measure's name, the spend and
        every written answer. Submitting and importing a return both keep it this way."""
        return cls(
            monitoring_return=mreturn,
            number=number,
            submission_key=submission_key,
            values={value.measure.name: str(value.value) for value in mreturn.values if value.value is not None},
            spend_pence=mreturn.spend_pence,
            spend_explanation=mreturn.spend_explanation,
            progress=mreturn.progress,
            case_study=mreturn.case_study,
            challenges=mreturn.challenges,
            partner_rag=mreturn.partner_rag,
            partner_rag_reason=mreturn.partner_rag_reason,
            submitted_at=at,
            submitted_by_id=by_id,
            personal_data_kinds=personal_data_kinds or None,
            personal_data_reason=personal_data_reason if personal_data_kinds else None,
        )

    @property
    def overrode_personal_data(self) -> bool:
        """Submitted with answers that looked like personal data, and the partner's reason why they are not."""
        return bool(self.personal_data_kinds)
