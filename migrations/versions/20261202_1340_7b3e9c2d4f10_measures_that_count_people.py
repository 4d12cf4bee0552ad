"""measures: whether a measure counts people (published small numbers are suppressed)

Revision ID: 7b3e9c2d4f10
Revises: 31e3c815ecd0
Create Date: 2026-12-03 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7b3e9c2d4f10'
down_revision = '31e3c815ecd0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('output_measure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counts_people', sa.Boolean(), nullable=True))
    # Until now no measure said so; the set-up pages, the year file and the workbook set it from here on.
    op.execute("UPDATE output_measure SET counts_people = FALSE")
    with op.batch_alter_table('output_measure', schema=None) as batch_op:
        batch_op.alter_column('counts_people', existing_type=sa.Boolean(), nullable=False)


def downgrade():
    with op.batch_alter_table('output_measure', schema=None) as batch_op:
        batch_op.drop_column('counts_people')
