"""reminders and digests sent (each once: a unique key)

Revision ID: 31e3c815ecd0
Revises: 9fee58bd6694
Create Date: 2026-12-02 12:53:22.330987

"""

from alembic import op
import sqlalchemy as sa
import portal.models.types


# revision identifiers, used by Alembic.
revision = "31e3c815ecd0"
down_revision = "9fee58bd6694"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "digest_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("week_of", sa.Date(), nullable=False),
        sa.Column("sent_at", portal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_digest_sent_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_sent")),
        sa.UniqueConstraint("user_id", "week_of", name="uq_digest_sent_once"),
    )
    with op.batch_alter_table("digest_sent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_sent_user_id"), ["user_id"], unique=False)

    op.create_table(
        "reminder_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occasion", sa.Date(), nullable=False),
        sa.Column("sent_at", portal.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('due_soon', 'overdue', 'csu_digest', 'chase')", name=op.f("ck_reminder_sent_kind_known")
        ),
        sa.CheckConstraint("quarter BETWEEN 1 AND 4", name=op.f("ck_reminder_sent_quarter_range")),
        sa.ForeignKeyConstraint(["by_id"], ["user.id"], name=op.f("fk_reminder_sent_by_id_user")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_reminder_sent_project_id_project")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_reminder_sent_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_sent")),
        sa.UniqueConstraint("project_id", "quarter", "user_id", "kind", "occasion", name="uq_reminder_sent_once"),
    )
    with op.batch_alter_table("reminder_sent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_sent_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_sent_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("reminder_sent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_sent_user_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_sent_project_id"))

    op.drop_table("reminder_sent")
    with op.batch_alter_table("digest_sent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_sent_user_id"))

    op.drop_table("digest_sent")
