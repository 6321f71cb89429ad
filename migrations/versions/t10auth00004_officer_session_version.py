"""officer.session_version: console sessions end server-side on sign-out and password change

Revision ID: t10auth00004
Revises: a78d102ad5e3
Create Date: 2026-12-01 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 't10auth00004'
down_revision = 'a78d102ad5e3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('officer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('officer', schema=None) as batch_op:
        batch_op.drop_column('session_version')
