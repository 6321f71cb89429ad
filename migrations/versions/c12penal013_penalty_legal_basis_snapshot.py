"""penalty: the row of the table of laws it was decided under, the citation and article text as
quoted when decided, whether the circumstances were minor (情节较轻); one decision per 漏登

Revision ID: c12penal013
Revises: c12cases012
Create Date: 2026-12-01 19:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'c12penal013'
down_revision = 'c12cases012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_basis_key', sa.String(length=32), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('legal_citation', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('legal_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('minor', sa.Boolean(), nullable=False,
                                      server_default='0'))
    _missed_index(unique=True)


def _missed_index(unique: bool) -> None:
    """Swap ix_penalty_missed_registration_id between plain and unique. MariaDB refuses to drop
    an index a foreign key needs on its own, so there both happen in one ALTER TABLE."""
    name = 'ix_penalty_missed_registration_id'
    if op.get_bind().dialect.name == 'mysql':
        op.execute(f"ALTER TABLE penalty DROP INDEX {name}, "
                   f"ADD {'UNIQUE ' if unique else ''}INDEX {name} (missed_registration_id)")
        return
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.drop_index(name)
        batch_op.create_index(name, ['missed_registration_id'], unique=unique)


def downgrade():
    _missed_index(unique=False)
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.drop_column('minor')
        batch_op.drop_column('legal_text')
        batch_op.drop_column('legal_citation')
        batch_op.drop_column('legal_basis_key')
