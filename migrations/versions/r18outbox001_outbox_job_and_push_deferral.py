"""outbox_job: work promised by a commit; push_message.claimed_at / not_before

Revision ID: r18outbox001
Revises: a78d102ad5e3
Create Date: 2026-12-01 17:00:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'r18outbox001'
down_revision = 'a78d102ad5e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=128), nullable=False),
    sa.Column('args', sa.Text(), nullable=False),
    sa.Column('queue', sa.String(length=16), nullable=False),
    sa.Column('dedupe_key', sa.String(length=191), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_job')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_job_dedupe_key'))
    )
    with op.batch_alter_table('outbox_job', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_job_open', ['done_at', 'enqueued_at'], unique=False)

    with op.batch_alter_table('push_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('not_before', sa.DateTime(), nullable=True))

    # Declarations still waiting for validation were promised before the outbox existed:
    # promise them now, so the relay delivers them like any other (no separate sweeper path).
    bind = op.get_bind()
    waiting = bind.execute(sa.text(
        "SELECT id FROM declaration WHERE status IN ('received', 'validating') ORDER BY id"
    )).scalars().all()
    if waiting:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        outbox = sa.table('outbox_job', sa.column('job'), sa.column('args'), sa.column('queue'),
                          sa.column('dedupe_key'), sa.column('created_at'),
                          sa.column('attempts'))
        name = 'workers.jobs.validate_declaration'
        op.bulk_insert(outbox, [
            {'job': name, 'args': f'[{i}]', 'queue': 'default', 'dedupe_key': f'{name}:[{i}]',
             'created_at': now, 'attempts': 0} for i in waiting])


def downgrade():
    with op.batch_alter_table('push_message', schema=None) as batch_op:
        batch_op.drop_column('not_before')
        batch_op.drop_column('claimed_at')

    with op.batch_alter_table('outbox_job', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_job_open')

    op.drop_table('outbox_job')
