"""a return records whether its narrative answers looked like personal data, for the review queue

Revision ID: personal_data_found
Revises: project_summary
Create Date: 2026-12-03 09:00:00.000000

The review queue flagged returns by scanning every listed return's answers on every view. The finding is now
stored when a return is submitted (and after a redaction); this step fills it for the returns already waiting
for review, with the portal's own scan (services/personal_data.py), so the queue shows the same flags as before.
"""

from alembic import op
import sqlalchemy as sa

from portal.models.vocabulary import NARRATIVE_FIELDS, SUBMITTED
from portal.services.personal_data import findings_for


# revision identifiers, used by Alembic.
revision = "personal_data_found"
down_revision = "project_summary"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade():
    with op.batch_alter_table("monitoring_return", schema=None) as batch_op:
        batch_op.add_column(sa.Column("personal_data_found", sa.Boolean(), server_default=sa.false(), nullable=False))
    returns = sa.table(
        "monitoring_return",
        sa.column("id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("personal_data_found", sa.Boolean()),
        *(sa.column(name, sa.Text()) for name in NARRATIVE_FIELDS),
    )
    connection = op.get_bind()
    # The ids first, then the answers a batch at a time: a national year of text is never held at once.
    ids = connection.execute(sa.select(returns.c.id).where(returns.c.status == SUBMITTED)).scalars().all()
    update = returns.update().where(returns.c.id == sa.bindparam("found_id")).values(personal_data_found=True)
    for start in range(0, len(ids), BATCH):
        rows = connection.execute(
            sa.select(returns.c.id, *(returns.c[name] for name in NARRATIVE_FIELDS)).where(
                returns.c.id.in_(ids[start : start + BATCH])
            )
        ).all()
        found = [
            {"found_id": row.id}
            for row in rows
            if findings_for({name: row._mapping[name] for name in NARRATIVE_FIELDS})
        ]
        if found:
            connection.execute(update, found)

def downgrade():
    with op.batch_alter_table("monitoring_return", schema=None) as batch_op:
        batch_op.drop_column("personal_data_found")
