"""a second factor (TOTP secret) per person, and their single-use recovery codes

Revision ID: mfa_second_factor
Revises: sign_in_failure_client_key
Create Date: 2026-12-02 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
from portal.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'mfa_second_factor'
down_revision = 'sign_in_failure_client_key'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'second_factor',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('enabled_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_step', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_second_factor_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_second_factor')),
        sa.UniqueConstraint('user_id', name=op.f('uq_second_factor_user_id')),
    )
    op.create_table(
        'recovery_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_recovery_code_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code')),
        sa.UniqueConstraint('user_id', 'code_hash', name=op.f('uq_recovery_code_user_id_code_hash')),
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_user_id'))
    op.drop_table('recovery_code')
    op.drop_table('second_factor')
