"""police field work: officer API idempotency, watch list details, versioned checklist
templates, control task closing, alert owner/deadline/note

Revision ID: p11field009
Revises: r18outbox001
Create Date: 2026-12-01 17:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'p11field009'
down_revision = 'r18outbox001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'officer_idempotent_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('officer_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['officer_id'], ['officer.id'],
                                name=op.f('fk_officer_idempotent_request_officer_id_officer')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_officer_idempotent_request')),
        sa.UniqueConstraint('officer_id', 'key',
                            name=op.f('uq_officer_idempotent_request_officer_id_key')),
    )
    with op.batch_alter_table('watch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('list_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('delist_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('checklist_template', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.drop_constraint('uq_checklist_template_name', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_checklist_template_name_version'),
                                          ['name', 'version'])
    with op.batch_alter_table('control_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('employer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('closed_reason', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_control_task_employer_id'), ['employer_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_control_task_employer_id_employer'),
                                    'employer', ['employer_id'], ['id'])
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_officer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('close_note', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_alert_owner_officer_id'), ['owner_officer_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_alert_owner_officer_id_officer'),
                                    'officer', ['owner_officer_id'], ['id'])


def downgrade():
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_alert_owner_officer_id_officer'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_alert_owner_officer_id'))
        batch_op.drop_column('close_note')
        batch_op.drop_column('due_at')
        batch_op.drop_column('owner_officer_id')
    with op.batch_alter_table('control_task', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_control_task_employer_id_employer'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_control_task_employer_id'))
        batch_op.drop_column('closed_reason')
        batch_op.drop_column('employer_id')
    with op.batch_alter_table('checklist_template', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_checklist_template_name_version'),
                                 type_='unique')
        batch_op.create_unique_constraint('uq_checklist_template_name', ['name'])
        batch_op.drop_column('version')
    with op.batch_alter_table('watch', schema=None) as batch_op:
        batch_op.drop_column('delist_reason')
        batch_op.drop_column('list_reason')
        batch_op.drop_column('name')
    op.drop_table('officer_idempotent_request')
