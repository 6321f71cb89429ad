"""console at city scale: review-queue indexes in the order the queue reads them, address list
and address search in full-text order

Revision ID: p17index014
Revises: c12penal013
Create Date: 2026-12-01 20:00:00.000000

"""
from alembic import op


revision = 'p17index014'
down_revision = 'c12penal013'
branch_labels = None
depends_on = None

# (table, name, columns): see app/services/declarations/queue.py for the queries each one serves.
INDEXES = [
    ('declaration', 'ix_declaration_station_status_created', ['station_id', 'status', 'created_at']),
    ('declaration', 'ix_declaration_status_created', ['status', 'created_at']),
    ('declaration', 'ix_declaration_station_kind_status', ['station_id', 'kind', 'status', 'created_at']),
    ('declaration', 'ix_declaration_station_late_status', ['station_id', 'is_late', 'status', 'created_at']),
    ('address', 'ix_address_community_text', ['community_id', 'full_text']),
    ('address', 'ix_address_station_text', ['station_id', 'full_text']),
]


def upgrade():
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    # (station_id, status) is the prefix of the first new index: the wider one replaces it.
    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.drop_index('ix_declaration_station_status')


def downgrade():
    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.create_index('ix_declaration_station_status', ['station_id', 'status'],
                              unique=False)
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
