"""a revision records a personal-data override: the kinds found and the partner's reason

Revision ID: 7f3b9c2d41e6
Revises: 5c1e7d0a2f34
Create Date: 2026-12-03 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from portal.models.audit import append_only_ddl, drop_append_only_ddl


# revision identifiers, used by Alembic.
revision = '7f3b9c2d41e6'
down_revision = '5c1e7d0a2f34'
branch_labels = None
depends_on = None

# return_revision is append-only by triggers. Adding a nullable column is a plain ALTER TABLE on both databases,
# but dropping one rebuilds the table on SQLite, which drops its triggers: they are put back after each step
# (dropped first, so the same statements serve whichever way the table was changed).


def _renew_append_only():
    dialect = op.get_bind().dialect.name
    for statement in drop_append_only_ddl('return_revision', dialect):
        op.execute(statement)
    for statement in append_only_ddl('return_revision', dialect):
        op.execute(statement)


def upgrade():
    with op.batch_alter_table('return_revision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personal_data_kinds', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('personal_data_reason', sa.Text(), nullable=True))
    _renew_append_only()


def downgrade():
    with op.batch_alter_table('return_revision', schema=None) as batch_op:
        batch_op.drop_column('personal_data_reason')
        batch_op.drop_column('personal_data_kinds')
    _renew_append_only()
