"""sign-in failures remember the client address (hashed), for the per-client limit

Revision ID: sign_in_failure_client_key
Revises: 3e8a1f5c9b20
Create Date: 2026-12-02 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'sign_in_failure_client_key'
down_revision = '3e8a1f5c9b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_sign_in_failure_client_at', ['client_key', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_failure_client_at')
        batch_op.drop_column('client_key')
