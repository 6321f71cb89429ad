"""kpi_threshold (versioned colour thresholds), kpi_report (stored reports), console_notice, kpi_aggregate

Revision ID: k13kpis0010
Revises: r18alerts002
Create Date: 2026-12-01 17:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'k13kpis0010'
# The brief names a78d102ad5e3; this branch's head is t10person002 (the integrator re-chains).
down_revision = 'r18alerts002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kpi_threshold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kpi', sa.String(length=32), nullable=False),
    sa.Column('green_min', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('yellow_min', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_officer_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_officer_id'], ['officer.id'], name=op.f('fk_kpi_threshold_created_by_officer_id_officer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_threshold'))
    )
    with op.batch_alter_table('kpi_threshold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_threshold_created_by_officer_id'), ['created_by_officer_id'], unique=False)
        batch_op.create_index('ix_kpi_threshold_kpi_created', ['kpi', 'created_at'], unique=False)

    op.create_table('kpi_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('schedule_key', sa.String(length=48), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('generated_at', sa.DateTime(), nullable=False),
    sa.Column('requested_by_officer_id', sa.Integer(), nullable=True),
    sa.Column('xlsx_path', sa.String(length=255), nullable=True),
    sa.Column('pdf_path', sa.String(length=255), nullable=True),
    sa.Column('figures', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_kpi_report_branch_id_branch')),
    sa.ForeignKeyConstraint(['requested_by_officer_id'], ['officer.id'], name=op.f('fk_kpi_report_requested_by_officer_id_officer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_report')),
    sa.UniqueConstraint('schedule_key', name=op.f('uq_kpi_report_schedule_key'))
    )
    with op.batch_alter_table('kpi_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_report_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kpi_report_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_kpi_report_requested_by_officer_id'), ['requested_by_officer_id'], unique=False)

    op.create_table('console_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('link', sa.String(length=255), nullable=True),
    sa.Column('dedupe_key', sa.String(length=96), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], name=op.f('fk_console_notice_officer_id_officer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_notice')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_console_notice_dedupe_key'))
    )
    with op.batch_alter_table('console_notice', schema=None) as batch_op:
        batch_op.create_index('ix_console_notice_officer_read', ['officer_id', 'read_at'], unique=False)


    op.create_table('kpi_aggregate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('kpi', sa.String(length=32), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('police_area_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('numerator', sa.Integer(), nullable=False),
    sa.Column('denominator', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_kpi_aggregate_community_id_community')),
    sa.ForeignKeyConstraint(['police_area_id'], ['police_area.id'], name=op.f('fk_kpi_aggregate_police_area_id_police_area')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_kpi_aggregate_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_aggregate'))
    )
    with op.batch_alter_table('kpi_aggregate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_aggregate_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kpi_aggregate_police_area_id'), ['police_area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kpi_aggregate_station_id'), ['station_id'], unique=False)
        batch_op.create_index('ix_kpi_aggregate_period_kpi', ['period', 'kpi', 'community_id'], unique=False)

    op.create_table('kpi_aggregate_state',
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('plate_levels', sa.String(length=64), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_kpi_aggregate_state'))
    )


def downgrade():
    # Dropping a table drops its indexes; MariaDB refuses to drop an FK's index on its own.
    op.drop_table('kpi_aggregate_state')
    op.drop_table('kpi_aggregate')
    op.drop_table('console_notice')
    op.drop_table('kpi_report')
    op.drop_table('kpi_threshold')
