"""The audit trail: append-only, written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, JSON, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .vocabulary import APPROVED, CHANGES_REQUESTED, STATUS_LABELS, SUBMITTED


class AuditEvent(Model):
    __tablename__ = "audit_event"
    # The audit trail page finds one object's events by kind and id.
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    summary: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    actor = relationship("User")

    ACTION_LABELS = {
        **{f"monitoring_return.{status}": STATUS_LABELS[status] for status in (SUBMITTED, APPROVED, CHANGES_REQUESTED)},
        "monitoring_return.reopened": "Reopened",
    }

    @property
    def action_label(self) -> str:
        return self.ACTION_LABELS.get(self.action, self.action)


# Tables the database itself keeps append-only. The same statements are in the migration.
APPEND_ONLY_TABLES = ("audit_event", "return_revision", "award_variation", "payment")


def append_only_ddl(table: str, dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()",
        ]
    return []


def drop_append_only_ddl(table: str, dialect: str) -> list[str]:
    """Undo append_only_ddl for one table (the shared PostgreSQL function is dropped separately)."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    return []


def _attach_append_only(table_name: str) -> None:
    table = Model.metadata.tables[table_name]
    for dialect in ("sqlite", "postgresql"):
        for statement in append_only_ddl(table_name, dialect):
            # DDL() applies %-formatting; the plpgsql placeholder must survive it.
            event.listen(table, "after_create", DDL(statement.replace("%", "%%")).execute_if(dialect=dialect))
