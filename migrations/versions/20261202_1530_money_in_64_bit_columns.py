"""money in 64-bit columns: every amount in pence is a BIGINT on PostgreSQL

Revision ID: money_in_64_bit
Revises: mfa_second_factor
Create Date: 2026-12-02 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'money_in_64_bit'
down_revision = 'mfa_second_factor'
branch_labels = None
depends_on = None

# PostgreSQL's integer stops at 2,147,483,647 pence (£21,474,836.47) while the forms accept up to £100m. On SQLite an
# INTEGER column already holds 64 bits, so nothing changes there (the models declare BIGINT for PostgreSQL only):
# rebuilding the tables would drop the append-only triggers of payment, award_variation and return_revision.
# On PostgreSQL, ALTER COLUMN ... TYPE rewrites the table without firing row triggers, so the append-only guards
# stay in place and are not set off; the check constraints on these columns are kept as they are.
PENCE_COLUMNS = {
    'funding_stream': ('amount_pence',),
    'project': ('amount_pence', 'q1_profile_pence', 'q2_profile_pence', 'q3_profile_pence', 'q4_profile_pence'),
    'award_variation': ('from_pence', 'to_pence'),
    'payment_instalment': ('amount_pence',),
    'payment': ('amount_pence',),
    'monitoring_return': ('spend_pence',),
    'return_revision': ('spend_pence',),
}


def _retype(old_type, new_type):
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, columns in PENCE_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, existing_type=old_type, type_=new_type)


def upgrade():
    _retype(sa.Integer(), sa.BigInteger())


def downgrade():
    # Refused by PostgreSQL (integer out of range) if an amount above £21,474,836.47 was stored since: nothing is
    # cut short silently.
    _retype(sa.BigInteger(), sa.Integer())
