"""return_revision: a redaction may replace a passage of its narrative (or the partner's reason) with "[removed]"

Revision ID: 3e8a1f5c9b20
Revises: 7f3b9c2d41e6
Create Date: 2026-12-02 15:30:00.000000

"""
from alembic import op

from portal.models.audit import drop_append_only_ddl, revision_guard_ddl


# revision identifiers, used by Alembic.
revision = '3e8a1f5c9b20'
down_revision = '7f3b9c2d41e6'
branch_labels = None
depends_on = None

# Frozen at this step: the columns SQLite's trigger keeps, and those retention or a redaction may change.
NARRATIVE_COLUMNS = ('progress', 'case_study', 'challenges', 'partner_rag_reason', 'spend_explanation')
KEPT_BEFORE = (
    'id', 'return_id', 'number', 'submission_key', 'values', 'spend_pence', 'partner_rag', 'submitted_at',
    'submitted_by_id', 'personal_data_kinds', 'personal_data_reason',
)
KEPT_AFTER = tuple(column for column in KEPT_BEFORE if column != 'personal_data_reason')
CHANGEABLE_AFTER = (*NARRATIVE_COLUMNS, 'personal_data_reason')


def _renew_guard(*args, **kwargs):
    dialect = op.get_bind().dialect.name
    for statement in [*drop_append_only_ddl('return_revision', dialect), *revision_guard_ddl(dialect, *args, **kwargs)]:
        op.execute(statement)


def upgrade():
    _renew_guard(KEPT_AFTER, CHANGEABLE_AFTER, redaction=True)


def downgrade():
    _renew_guard(KEPT_BEFORE, NARRATIVE_COLUMNS, redaction=False)
