"""each project's row of the CSU overview, kept in step with every write (services/summary.py)

Revision ID: project_summary
Revises: audit_indexes
Create Date: 2026-12-03 08:00:00.000000

The table starts empty: the overview computes a year's missing rows the first time it is read, and
`flask summaries rebuild` computes them all at once.
"""

from alembic import op
import sqlalchemy as sa
from portal.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = "project_summary"
down_revision = "audit_indexes"
branch_labels = None
depends_on = None

PENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PERCENT = sa.Numeric(precision=14, scale=1)


def upgrade():
    op.create_table(
        "project_summary",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("year_id", sa.Integer(), nullable=False),
        sa.Column("award_pence", PENCE, nullable=False),
        sa.Column("paid_pence", PENCE, nullable=False),
        sa.Column("reported_spend_pence", PENCE, nullable=False),
        sa.Column("spend_pct_of_award", PERCENT, nullable=True),
        sa.Column("spend_pct_of_profile", PERCENT, nullable=True),
        sa.Column("delivery_pct", PERCENT, nullable=True),
        sa.Column("delivery_rag", sa.String(length=10), nullable=True),
        sa.Column("spend_rag", sa.String(length=10), nullable=True),
        sa.Column("partner_rag", sa.String(length=10), nullable=True),
        sa.Column("csu_rag", sa.String(length=10), nullable=True),
        sa.Column("q1_status", sa.String(length=20), nullable=False),
        sa.Column("q2_status", sa.String(length=20), nullable=False),
        sa.Column("q3_status", sa.String(length=20), nullable=False),
        sa.Column("q4_status", sa.String(length=20), nullable=False),
        sa.Column("q1_reported", sa.Boolean(), nullable=False),
        sa.Column("q2_reported", sa.Boolean(), nullable=False),
        sa.Column("q3_reported", sa.Boolean(), nullable=False),
        sa.Column("q4_reported", sa.Boolean(), nullable=False),
        sa.Column("q1_open", sa.Boolean(), nullable=False),
        sa.Column("q2_open", sa.Boolean(), nullable=False),
        sa.Column("q3_open", sa.Boolean(), nullable=False),
        sa.Column("q4_open", sa.Boolean(), nullable=False),
        sa.Column("q1_overdue", sa.Boolean(), nullable=False),
        sa.Column("q2_overdue", sa.Boolean(), nullable=False),
        sa.Column("q3_overdue", sa.Boolean(), nullable=False),
        sa.Column("q4_overdue", sa.Boolean(), nullable=False),
        sa.Column("q1_not_required", sa.Boolean(), nullable=False),
        sa.Column("q2_not_required", sa.Boolean(), nullable=False),
        sa.Column("q3_not_required", sa.Boolean(), nullable=False),
        sa.Column("q4_not_required", sa.Boolean(), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("stale_after", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_project_summary_project_id_project"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["year_id"], ["financial_year.id"], name=op.f("fk_project_summary_year_id_financial_year")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_summary")),
    )
    with op.batch_alter_table("project_summary", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_summary_year_id"), ["year_id"], unique=False)


def downgrade():
    with op.batch_alter_table("project_summary", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_summary_year_id"))
    op.drop_table("project_summary")
