"""person proof links, proposed person changes, landlord confirmation of self-declarations

WeChat users are linked to persons only by proof (method, time, officer; a station link code);
person_change holds what declarations propose about a person and the history of what was applied;
declarations record whether the landlord confirmed a tenant's self-declaration; residences and
employments keep the name the declarer gave (shown to the declarer instead of the name on record).

Revision ID: t10person002
Revises: t10mask00003
Create Date: 2026-12-01 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 't10person002'
down_revision = 't10mask00003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('old_value', sa.String(length=64), nullable=True),
    sa.Column('new_value', sa.String(length=64), nullable=False),
    sa.Column('new_value_enc', sa.Text(), nullable=True),
    sa.Column('declaration_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('applied_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['declaration_id'], ['declaration.id'], name=op.f('fk_person_change_declaration_id_declaration')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_person_change_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_change'))
    )
    with op.batch_alter_table('person_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_change_declaration_id'), ['declaration_id'], unique=False)
        batch_op.create_index('ix_person_change_person_status', ['person_id', 'status'], unique=False)

    with op.batch_alter_table('wechat_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_link_method', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('person_linked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('person_linked_by_officer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('link_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('link_code_expires_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_wechat_user_link_code'), ['link_code'])
        batch_op.create_foreign_key(batch_op.f('fk_wechat_user_person_linked_by_officer_id_officer'), 'officer', ['person_linked_by_officer_id'], ['id'])

    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('landlord_confirmation', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('landlord_answered_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_declaration_landlord_confirmation'), ['landlord_confirmation'], unique=False)

    with op.batch_alter_table('residence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_name', sa.String(length=64), nullable=True))

    with op.batch_alter_table('employment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_name', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('employment', schema=None) as batch_op:
        batch_op.drop_column('declared_name')

    with op.batch_alter_table('residence', schema=None) as batch_op:
        batch_op.drop_column('declared_name')

    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declaration_landlord_confirmation'))
        batch_op.drop_column('landlord_answered_at')
        batch_op.drop_column('landlord_confirmation')

    with op.batch_alter_table('wechat_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_wechat_user_person_linked_by_officer_id_officer'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_wechat_user_link_code'), type_='unique')
        batch_op.drop_column('link_code_expires_at')
        batch_op.drop_column('link_code')
        batch_op.drop_column('person_linked_by_officer_id')
        batch_op.drop_column('person_linked_at')
        batch_op.drop_column('person_link_method')

    # Dropping the table drops its indexes (MariaDB refuses to drop one a foreign key needs).
    op.drop_table('person_change')
