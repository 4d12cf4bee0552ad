"""The audit trail: append-only, written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, JSON, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .vocabulary import APPROVED, CHANGES_REQUESTED, REDACTED_TEXT, STATUS_LABELS, SUBMITTED


class AuditEvent(Model):
    __tablename__ = "audit_event"
    # One object's history (a return's on its pages, the trail filtered by object) is found by kind and id and read
    # in time order straight from this index; `at` alone has its own (the trail by date).
    __table_args__ = (Index("ix_audit_event_object_at", "object_type", "object_id", "at"),)

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
        "monitoring_return.redacted": "Passage removed",
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


# The two changes the return_revision table allows, every other column left as it was: retention sets a narrative
# column to NULL (services/retention.py), and a redaction replaces a passage of one with REDACTED_TEXT
# (services/redaction.py), so the new text must carry that mark. Any other UPDATE, and every DELETE, is refused.
REVISION_NARRATIVE_COLUMNS = ("progress", "case_study", "challenges", "partner_rag_reason", "spend_explanation")
# What a redaction may reach: the narrative and the partner's reason for submitting despite the personal-data checks.
REVISION_REDACTABLE_COLUMNS = (*REVISION_NARRATIVE_COLUMNS, "personal_data_reason")
# Checked column by column on SQLite; PostgreSQL compares the whole row less the changeable columns (so a new
# column is covered).
REVISION_KEPT_COLUMNS = (
    "id",
    "return_id",
    "number",
    "submission_key",
    "values",
    "spend_pence",
    "partner_rag",
    "submitted_at",
    "submitted_by_id",
    "personal_data_kinds",
)


def revision_guard_ddl(
    dialect: str,
    kept_columns: tuple[str, ...] = REVISION_KEPT_COLUMNS,
    changeable_columns: tuple[str, ...] = REVISION_REDACTABLE_COLUMNS,
    *,
    redaction: bool = True,
) -> list[str]:
    """return_revision's append-only triggers with retention's exception (a changeable column set to NULL) and,
    with `redaction`, the redaction's (a changeable column's new text carries REDACTED_TEXT). A migration passes
    the columns the table has at its step (SQLite's trigger names each one)."""
    refused = "'return_revision is append-only'"
    mark = REDACTED_TEXT.replace("'", "''")
    if dialect == "sqlite":
        kept = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in kept_columns)
        redacted = ' OR instr(NEW."{c}", \'' + mark + "') > 0" if redaction else ""
        cleared = " AND ".join(
            f'(NEW."{c}" IS OLD."{c}" OR NEW."{c}" IS NULL' + redacted.format(c=c) + ")" for c in changeable_columns
        )
        return [
            "CREATE TRIGGER return_revision_no_update BEFORE UPDATE ON return_revision "
            f"WHEN NOT ({kept} AND {cleared}) BEGIN SELECT RAISE(ABORT, {refused}); END",
            f"CREATE TRIGGER return_revision_no_delete BEFORE DELETE ON return_revision "
            f"BEGIN SELECT RAISE(ABORT, {refused}); END",
        ]
    if dialect == "postgresql":
        changeable = "ARRAY[" + ", ".join(f"'{c}'" for c in changeable_columns) + "]"
        redacted = " OR position('" + mark + "' in NEW.{c}) > 0" if redaction else ""
        cleared = " AND ".join(
            f"(NEW.{c} IS NOT DISTINCT FROM OLD.{c} OR NEW.{c} IS NULL" + redacted.format(c=c) + ")"
            for c in changeable_columns
        )
        return [
            "CREATE OR REPLACE FUNCTION refuse_revision_change() RETURNS trigger AS $$ BEGIN "
            f"IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - {changeable}) = (to_jsonb(OLD) - {changeable}) AND {cleared} "
            "THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql",
            "CREATE TRIGGER return_revision_append_only BEFORE UPDATE OR DELETE ON return_revision "
            "FOR EACH ROW EXECUTE FUNCTION refuse_revision_change()",
        ]
    return []


def table_guard_ddl(table: str, dialect: str) -> list[str]:
    """The append-only triggers a table has now (return_revision's with retention's exception)."""
    return revision_guard_ddl(dialect) if table == "return_revision" else append_only_ddl(table, dialect)


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
        for statement in table_guard_ddl(table_name, dialect):
            # DDL() applies %-formatting; the plpgsql placeholder must survive it.
            event.listen(table, "after_create", DDL(statement.replace("%", "%%")).execute_if(dialect=dialect))
