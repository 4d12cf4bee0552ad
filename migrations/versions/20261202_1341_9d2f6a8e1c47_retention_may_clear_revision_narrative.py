"""return_revision: still append-only, except that retention may set its narrative columns to NULL

Revision ID: 9d2f6a8e1c47
Revises: 7b3e9c2d4f10
Create Date: 2026-12-03 15:30:00.000000

"""
from alembic import op

from portal.models.audit import append_only_ddl, drop_append_only_ddl, revision_guard_ddl


# revision identifiers, used by Alembic.
revision = '9d2f6a8e1c47'
down_revision = '7b3e9c2d4f10'
branch_labels = None
depends_on = None


# The columns return_revision has at this step, each checked by SQLite's trigger (frozen here: later steps add more).
KEPT_COLUMNS = (
    'id', 'return_id', 'number', 'submission_key', 'values', 'spend_pence', 'partner_rag', 'submitted_at',
    'submitted_by_id',
)
# The narrative columns retention may set to NULL (frozen here; a later step lets a redaction change them too).
NARRATIVE_COLUMNS = ('progress', 'case_study', 'challenges', 'partner_rag_reason', 'spend_explanation')


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in [*drop_append_only_ddl('return_revision', dialect), *revision_guard_ddl(dialect, KEPT_COLUMNS, NARRATIVE_COLUMNS, redaction=False)]:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in drop_append_only_ddl('return_revision', dialect):
        op.execute(statement)
    if dialect == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS refuse_revision_change()")
    for statement in append_only_ddl('return_revision', dialect):
        op.execute(statement)
