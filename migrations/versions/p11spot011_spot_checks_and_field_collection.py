"""spot checks: plans with a recorded seed, plan items, found persons' room and collected
declaration; missed registrations also from spot checks (source, spot_check_person, landlord);
house.pledge_signature for pledges signed on an officer's phone

Revision ID: p11spot011
Revises: k13kpis0010
Create Date: 2026-12-01 18:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'p11spot011'
down_revision = 'k13kpis0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'spot_check_plan',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('police_area_id', sa.Integer(), nullable=True),
        sa.Column('created_by_officer_id', sa.Integer(), nullable=False),
        sa.Column('seed', sa.BigInteger(), nullable=False),
        sa.Column('sample_size', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'],
                                name=op.f('fk_spot_check_plan_station_id_station')),
        sa.ForeignKeyConstraint(['police_area_id'], ['police_area.id'],
                                name=op.f('fk_spot_check_plan_police_area_id_police_area')),
        sa.ForeignKeyConstraint(['created_by_officer_id'], ['officer.id'],
                                name=op.f('fk_spot_check_plan_created_by_officer_id_officer')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check_plan')),
    )
    with op.batch_alter_table('spot_check_plan', schema=None) as batch_op:
        for col in ('station_id', 'police_area_id', 'created_by_officer_id'):
            batch_op.create_index(batch_op.f(f'ix_spot_check_plan_{col}'), [col], unique=False)
    op.create_table(
        'spot_check_plan_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('house_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('police_area_id', sa.Integer(), nullable=True),
        sa.Column('officer_id', sa.Integer(), nullable=True),
        sa.Column('spot_check_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['plan_id'], ['spot_check_plan.id'],
                                name=op.f('fk_spot_check_plan_item_plan_id_spot_check_plan')),
        sa.ForeignKeyConstraint(['house_id'], ['house.id'],
                                name=op.f('fk_spot_check_plan_item_house_id_house')),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'],
                                name=op.f('fk_spot_check_plan_item_station_id_station')),
        sa.ForeignKeyConstraint(['police_area_id'], ['police_area.id'],
                                name=op.f('fk_spot_check_plan_item_police_area_id_police_area')),
        sa.ForeignKeyConstraint(['officer_id'], ['officer.id'],
                                name=op.f('fk_spot_check_plan_item_officer_id_officer')),
        sa.ForeignKeyConstraint(['spot_check_id'], ['spot_check.id'],
                                name=op.f('fk_spot_check_plan_item_spot_check_id_spot_check')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check_plan_item')),
    )
    with op.batch_alter_table('spot_check_plan_item', schema=None) as batch_op:
        for col in ('plan_id', 'house_id', 'station_id', 'police_area_id', 'officer_id',
                    'spot_check_id'):
            batch_op.create_index(batch_op.f(f'ix_spot_check_plan_item_{col}'), [col],
                                  unique=False)
    with op.batch_alter_table('spot_check_person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('room', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('declaration_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_spot_check_person_declaration_id'),
                              ['declaration_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_spot_check_person_declaration_id_declaration'),
                                    'declaration', ['declaration_id'], ['id'])
    with op.batch_alter_table('house', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pledge_signature', sa.String(length=80), nullable=True))
    with op.batch_alter_table('missed_registration', schema=None) as batch_op:
        batch_op.alter_column('case_check_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False,
                                      server_default='case'))
        batch_op.add_column(sa.Column('spot_check_person_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('landlord_person_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_missed_registration_spot_check_person_id'), ['spot_check_person_id'])
        batch_op.create_index(batch_op.f('ix_missed_registration_landlord_person_id'),
                              ['landlord_person_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_missed_registration_spot_check_person_id_spot_check_person'),
            'spot_check_person', ['spot_check_person_id'], ['id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_missed_registration_landlord_person_id_person'),
            'person', ['landlord_person_id'], ['id'])


def downgrade():
    with op.batch_alter_table('missed_registration', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_missed_registration_landlord_person_id_person'), type_='foreignkey')
        batch_op.drop_constraint(
            batch_op.f('fk_missed_registration_spot_check_person_id_spot_check_person'),
            type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_missed_registration_landlord_person_id'))
        batch_op.drop_constraint(batch_op.f('uq_missed_registration_spot_check_person_id'),
                                 type_='unique')
        batch_op.drop_column('landlord_person_id')
        batch_op.drop_column('spot_check_person_id')
        batch_op.drop_column('source')
        batch_op.alter_column('case_check_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('spot_check_person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_spot_check_person_declaration_id_declaration'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_spot_check_person_declaration_id'))
        batch_op.drop_column('declaration_id')
        batch_op.drop_column('room')
    with op.batch_alter_table('house', schema=None) as batch_op:
        batch_op.drop_column('pledge_signature')
    op.drop_table('spot_check_plan_item')
    op.drop_table('spot_check_plan')
