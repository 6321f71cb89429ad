"""push_message: outgoing WeChat pushes recorded before sending

Revision ID: a78d102ad5e3
Revises: 6fab11adc15a
Create Date: 2026-11-27 19:54:03.212125

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a78d102ad5e3'
down_revision = '6fab11adc15a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('push_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('wechat_user_id', sa.Integer(), nullable=True),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('template_id', sa.String(length=128), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=191), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('errcode', sa.Integer(), nullable=True),
    sa.Column('errmsg', sa.String(length=255), nullable=True),
    sa.Column('msgid', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('delivery_status', sa.String(length=64), nullable=True),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['wechat_user_id'], ['wechat_user.id'], name=op.f('fk_push_message_wechat_user_id_wechat_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_message')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_push_message_dedupe_key'))
    )
    with op.batch_alter_table('push_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_message_msgid'), ['msgid'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_message_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_message_wechat_user_id'), ['wechat_user_id'], unique=False)


def downgrade():
    # Drop the table outright: MariaDB refuses to drop the index backing the foreign key first.
    op.drop_table('push_message')
