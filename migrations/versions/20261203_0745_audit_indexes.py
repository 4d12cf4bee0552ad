"""the audit trail indexed for one object's history in time order

Revision ID: audit_indexes
Revises: money_in_64_bit
Create Date: 2026-12-03 07:45:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'audit_indexes'
down_revision = 'money_in_64_bit'
branch_labels = None
depends_on = None

# One return's history scanned every audit event at national scale (633,133 rows, 2 s): (object_type, object_id, at)
# finds an object's events and reads them in time order. It covers (object_type, object_id), which is dropped.
# ix_audit_event_at (the trail by date) exists since the initial schema. Plain CREATE/DROP INDEX: a batch operation
# on audit_event could rebuild the table on SQLite and lose the triggers that keep it append-only.


def upgrade():
    op.create_index('ix_audit_event_object_at', 'audit_event', ['object_type', 'object_id', 'at'], unique=False)
    op.drop_index('ix_audit_event_object', table_name='audit_event')


def downgrade():
    op.create_index('ix_audit_event_object', 'audit_event', ['object_type', 'object_id'], unique=False)
    op.drop_index('ix_audit_event_object_at', table_name='audit_event')
