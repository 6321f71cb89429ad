"""ownership_claim: a second registration of a house or employer files a claim, never a takeover

Revision ID: t10claims001
Revises: t10auth00004
Create Date: 2026-12-01 16:37:06.115137

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 't10claims001'
down_revision = 't10auth00004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ownership_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('claimant_wechat_user_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('previous_owner_person_id', sa.Integer(), nullable=True),
    sa.Column('previous_wechat_user_ids', sa.Text(), nullable=True),
    sa.Column('proposed_owner_person_id', sa.Integer(), nullable=True),
    sa.Column('proposed_agent_person_id', sa.Integer(), nullable=True),
    sa.Column('proposal', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('pending_slot', sa.Integer(), nullable=True),
    sa.Column('decided_by_officer_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('police_area_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['claimant_wechat_user_id'], ['wechat_user.id'], name=op.f('fk_ownership_claim_claimant_wechat_user_id_wechat_user')),
    sa.ForeignKeyConstraint(['decided_by_officer_id'], ['officer.id'], name=op.f('fk_ownership_claim_decided_by_officer_id_officer')),
    sa.ForeignKeyConstraint(['police_area_id'], ['police_area.id'], name=op.f('fk_ownership_claim_police_area_id_police_area')),
    sa.ForeignKeyConstraint(['previous_owner_person_id'], ['person.id'], name=op.f('fk_ownership_claim_previous_owner_person_id_person')),
    sa.ForeignKeyConstraint(['proposed_agent_person_id'], ['person.id'], name=op.f('fk_ownership_claim_proposed_agent_person_id_person')),
    sa.ForeignKeyConstraint(['proposed_owner_person_id'], ['person.id'], name=op.f('fk_ownership_claim_proposed_owner_person_id_person')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_ownership_claim_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ownership_claim')),
    sa.UniqueConstraint('claimant_wechat_user_id', 'idempotency_key', name=op.f('uq_ownership_claim_claimant_wechat_user_id_idempotency_key')),
    sa.UniqueConstraint('subject_type', 'subject_id', 'claimant_wechat_user_id', 'pending_slot', name='uq_ownership_claim_one_pending')
    )
    with op.batch_alter_table('ownership_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ownership_claim_claimant_wechat_user_id'), ['claimant_wechat_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_claim_decided_by_officer_id'), ['decided_by_officer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_claim_police_area_id'), ['police_area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_claim_previous_owner_person_id'), ['previous_owner_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_claim_proposed_agent_person_id'), ['proposed_agent_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_claim_proposed_owner_person_id'), ['proposed_owner_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_claim_station_id'), ['station_id'], unique=False)
        batch_op.create_index('ix_ownership_claim_station_status', ['station_id', 'status'], unique=False)
        batch_op.create_index('ix_ownership_claim_subject', ['subject_type', 'subject_id'], unique=False)



def downgrade():
    # Drop the table outright: MariaDB refuses to drop an index backing a foreign key first.
    op.drop_table('ownership_claim')
