"""join the mail-preferences and measures heads (both follow the outbox migration on main)

Revision ID: 7b3e1c2d9a40
Revises: 9fee58bd6694, 5c1e7d0a2f34
Create Date: 2026-12-02 13:29:00

Main had two heads when the reminders were merged in; this empty revision joins them so there is one line
to upgrade and step down along. Should main rechain one after the other, this file goes and the reminders
migration follows the single head.
"""

# revision identifiers, used by Alembic.
revision = "7b3e1c2d9a40"
down_revision = ("9fee58bd6694", "5c1e7d0a2f34")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
