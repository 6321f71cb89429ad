"""community.name unique within its station, not across the whole branch or city

Revision ID: f14prom007
Revises: t10person002
Create Date: 2026-12-01 17:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f14prom007'
down_revision = 't10person002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_constraint('uq_community_name', type_='unique')
        batch_op.create_unique_constraint('uq_community_station_id_name', ['station_id', 'name'])


def downgrade():
    with op.batch_alter_table('community', schema=None) as batch_op:
        batch_op.drop_constraint('uq_community_station_id_name', type_='unique')
        batch_op.create_unique_constraint('uq_community_name', ['name'])
