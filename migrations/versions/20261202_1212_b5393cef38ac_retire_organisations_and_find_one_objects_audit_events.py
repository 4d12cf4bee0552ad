"""retire organisations, and find one object's audit events

Revision ID: b5393cef38ac
Revises: 43d67c2c8452
Create Date: 2026-12-02 12:12:12.234348

"""
from alembic import op
import sqlalchemy as sa
import portal.models.types


# revision identifiers, used by Alembic.
revision = 'b5393cef38ac'
down_revision = '43d67c2c8452'
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX: a batch operation on audit_event could rebuild the table on SQLite and lose the
    # triggers that keep it append-only.
    op.create_index('ix_audit_event_object', 'audit_event', ['object_type', 'object_id'], unique=False)

    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', portal.models.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('retired_at')

    op.drop_index('ix_audit_event_object', table_name='audit_event')
