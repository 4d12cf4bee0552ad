"""measures: a stored whole-or-decimal choice, and retiring

Revision ID: 5c1e7d0a2f34
Revises: 0ac1bb5fe3c1
Create Date: 2026-12-03 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
import portal.models.types


# revision identifiers, used by Alembic.
revision = '5c1e7d0a2f34'
down_revision = '0ac1bb5fe3c1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('output_measure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decimals', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('retired_at', portal.models.types.UTCDateTime(timezone=True), nullable=True))
    # Until now decimals were inferred from the unit: hours (or hour) allowed them, everything else was whole.
    op.execute(
        "UPDATE output_measure SET decimals = CASE WHEN lower(trim(unit)) IN ('hours', 'hour') "
        "THEN TRUE ELSE FALSE END"
    )
    with op.batch_alter_table('output_measure', schema=None) as batch_op:
        batch_op.alter_column('decimals', existing_type=sa.Boolean(), nullable=False)


def downgrade():
    with op.batch_alter_table('output_measure', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
        batch_op.drop_column('decimals')
