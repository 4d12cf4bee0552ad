"""a revision records a personal-data override: the kinds found and the partner's reason

Revision ID: 7f3b9c2d41e6
Revises: 9d2f6a8e1c47
Create Date: 2026-12-03 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from portal.models.audit import drop_append_only_ddl, revision_guard_ddl


# revision identifiers, used by Alembic.
revision = '7f3b9c2d41e6'
down_revision = '9d2f6a8e1c47'
branch_labels = None
depends_on = None

# return_revision is append-only by triggers, with retention's one exception (9d2f6a8e1c47). Adding a nullable column
# is a plain ALTER TABLE on both databases, but dropping one rebuilds the table on SQLite, which drops its triggers;
# and SQLite's trigger names every column it keeps. So the guard is put back after each step with the columns the
# table then has (dropped first, so the same statements serve whichever way the table was changed).
BEFORE = (
    'id', 'return_id', 'number', 'submission_key', 'values', 'spend_pence', 'partner_rag', 'submitted_at',
    'submitted_by_id',
)
AFTER = (*BEFORE, 'personal_data_kinds', 'personal_data_reason')
# The narrative columns retention may set to NULL (frozen here; a later step lets a redaction change them too).
NARRATIVE_COLUMNS = ('progress', 'case_study', 'challenges', 'partner_rag_reason', 'spend_explanation')


def _renew_guard(kept_columns):
    dialect = op.get_bind().dialect.name
    for statement in [*drop_append_only_ddl('return_revision', dialect), *revision_guard_ddl(dialect, kept_columns, NARRATIVE_COLUMNS, redaction=False)]:
        op.execute(statement)


def upgrade():
    with op.batch_alter_table('return_revision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personal_data_kinds', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('personal_data_reason', sa.Text(), nullable=True))
    _renew_guard(AFTER)


def downgrade():
    with op.batch_alter_table('return_revision', schema=None) as batch_op:
        batch_op.drop_column('personal_data_reason')
        batch_op.drop_column('personal_data_kinds')
    _renew_guard(BEFORE)
