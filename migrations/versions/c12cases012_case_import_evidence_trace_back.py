"""case cross-check: case imports with progress, the registered-before-case evidence on each
case person, and the trace-back of a 漏登 (actual address, outcome, later registration)

Revision ID: c12cases012
Revises: p11spot011
Create Date: 2026-12-01 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'c12cases012'
down_revision = 'p11spot011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('officer_id', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('path', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('processed', sa.Integer(), nullable=False),
        sa.Column('imported', sa.Integer(), nullable=False),
        sa.Column('unchanged', sa.Integer(), nullable=False),
        sa.Column('missed', sa.Integer(), nullable=False),
        sa.Column('errors', sa.Text(), nullable=True),
        sa.Column('error_count', sa.Integer(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['officer_id'], ['officer.id'],
                                name=op.f('fk_case_import_officer_id_officer')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_import')),
    )
    with op.batch_alter_table('case_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_import_officer_id'), ['officer_id'],
                              unique=False)
    with op.batch_alter_table('case_check', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('evidence_record_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('evidence_declaration_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('evidence_submitted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('import_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_check_evidence_declaration_id'),
                              ['evidence_declaration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_check_import_id'), ['import_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_case_check_evidence_declaration_id_declaration'), 'declaration',
            ['evidence_declaration_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_case_check_import_id_case_import'),
                                    'case_import', ['import_id'], ['id'])
    with op.batch_alter_table('missed_registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actual_address_text', sa.String(length=128),
                                      nullable=True))
        batch_op.add_column(sa.Column('actual_address_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('registered_declaration_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('registered_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_missed_registration_actual_address_id'),
                              ['actual_address_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_missed_registration_registered_declaration_id'),
                              ['registered_declaration_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_missed_registration_actual_address_id_address'), 'address',
            ['actual_address_id'], ['id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_missed_registration_registered_declaration_id_declaration'),
            'declaration', ['registered_declaration_id'], ['id'])


def downgrade():
    with op.batch_alter_table('missed_registration', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_missed_registration_registered_declaration_id_declaration'),
            type_='foreignkey')
        batch_op.drop_constraint(
            batch_op.f('fk_missed_registration_actual_address_id_address'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_missed_registration_registered_declaration_id'))
        batch_op.drop_index(batch_op.f('ix_missed_registration_actual_address_id'))
        for col in ('registered_at', 'registered_declaration_id', 'outcome_code',
                    'actual_address_id', 'actual_address_text'):
            batch_op.drop_column(col)
    with op.batch_alter_table('case_check', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_check_import_id_case_import'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_case_check_evidence_declaration_id_declaration'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_case_check_import_id'))
        batch_op.drop_index(batch_op.f('ix_case_check_evidence_declaration_id'))
        for col in ('import_id', 'decided_at', 'evidence_submitted_at', 'evidence_declaration_id',
                    'evidence_record_id', 'evidence_kind'):
            batch_op.drop_column(col)
    op.drop_table('case_import')  # its index and foreign key go with it (MariaDB refuses the
    # index alone while the foreign key needs it)
