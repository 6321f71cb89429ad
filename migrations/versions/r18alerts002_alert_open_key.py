"""alert.open_key: one open escalation per kind and object, enforced by a unique key

Revision ID: r18alerts002
Revises: p11field009
Create Date: 2026-12-01 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'r18alerts002'
down_revision = 'p11field009'
branch_labels = None
depends_on = None

ESCALATION_KINDS = ("unreachable_landlord", "reminder_unanswered", "move_out_unconfirmed")


def upgrade():
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_key', sa.String(length=96), nullable=True))
    # Existing open escalations get their key; of duplicates raised by racing sweeps before this
    # revision, only the oldest does (the others stay open for an officer to close).
    alert = sa.table('alert', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                     sa.column('object_type', sa.String), sa.column('object_id', sa.Integer),
                     sa.column('status', sa.String), sa.column('open_key', sa.String))
    conn = op.get_bind()
    seen = set()
    rows = conn.execute(sa.select(alert.c.id, alert.c.kind, alert.c.object_type, alert.c.object_id)
                        .where(alert.c.status == 'open', alert.c.kind.in_(ESCALATION_KINDS))
                        .order_by(alert.c.id)).all()
    for alert_id, kind, object_type, object_id in rows:
        key = f"{kind}:{object_type}:{object_id}"
        if key in seen:
            continue
        seen.add(key)
        conn.execute(alert.update().where(alert.c.id == alert_id).values(open_key=key))
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_alert_open_key'), ['open_key'])


def downgrade():
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_alert_open_key'), type_='unique')
        batch_op.drop_column('open_key')
