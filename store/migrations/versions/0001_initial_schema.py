"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 11:48:14.572241
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=100), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('hospitals',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('grade', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_hospitals'))
    )
    op.create_table('unions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unions'))
    )
    op.create_table('members',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('union_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['union_id'], ['unions.id'], name=op.f('fk_members_union_id_unions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_union_id'), ['union_id'], unique=False)

    op.create_table('settlements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=32), nullable=False),
    sa.Column('setl_id', sa.String(length=64), nullable=False),
    sa.Column('psn_no', sa.String(length=64), nullable=False),
    sa.Column('begndate', sa.Date(), nullable=False),
    sa.Column('enddate', sa.Date(), nullable=False),
    sa.Column('medfee_sumamt', sa.BigInteger(), nullable=False),
    sa.Column('in_policy_self_pay', sa.BigInteger(), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['hospitals.code'], name=op.f('fk_settlements_fixmedins_code_hospitals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements')),
    sa.UniqueConstraint('fixmedins_code', 'setl_id', name=op.f('uq_settlements_fixmedins_code'))
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlements_fixmedins_code'), ['fixmedins_code'], unique=False)

    op.create_table('accumulators',
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('benefit', sa.String(length=32), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_accumulators_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', 'benefit', 'measure', 'scope', name=op.f('pk_accumulators'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('hospital_code', sa.String(length=32), nullable=True),
    sa.Column('member_id', sa.String(length=64), nullable=True),
    sa.Column('union_id', sa.String(length=32), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['hospital_code'], ['hospitals.code'], name=op.f('fk_api_keys_hospital_code_hospitals')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_api_keys_member_id_members')),
    sa.ForeignKeyConstraint(['union_id'], ['unions.id'], name=op.f('fk_api_keys_union_id_unions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_table('enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('enrolled_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_enrollments_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('member_id', 'period_start', name=op.f('uq_enrollments_member_id'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollments_member_id'), ['member_id'], unique=False)

    op.create_table('hardship_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('verified_on', sa.Date(), nullable=True),
    sa.Column('revoked_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_hardship_registrations_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hardship_registrations'))
    )
    with op.batch_alter_table('hardship_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hardship_registrations_member_id'), ['member_id'], unique=False)

    op.create_table('claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('plan_version', sa.String(length=100), nullable=False),
    sa.Column('trace', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_claims_member_id_members')),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.id'], name=op.f('fk_claims_settlement_id_settlements')),
    sa.ForeignKeyConstraint(['submitted_by'], ['api_keys.id'], name=op.f('fk_claims_submitted_by_api_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claims'))
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claims_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_settlement_id'), ['settlement_id'], unique=False)
        batch_op.create_index('ix_claims_status_submitted', ['status', 'submitted_on'], unique=False)

    op.create_table('adjudicated_bills',
    sa.Column('fixmedins_code', sa.String(length=32), nullable=False),
    sa.Column('setl_id', sa.String(length=64), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_adjudicated_bills_claim_id_claims')),
    sa.PrimaryKeyConstraint('fixmedins_code', 'setl_id', name=op.f('pk_adjudicated_bills'))
    )
    op.create_table('decision_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('benefit', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_decision_lines_claim_id_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_lines')),
    sa.UniqueConstraint('claim_id', 'benefit', name=op.f('uq_decision_lines_claim_id'))
    )
    with op.batch_alter_table('decision_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_lines_claim_id'), ['claim_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('decision_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_lines_claim_id'))

    op.drop_table('decision_lines')
    op.drop_table('adjudicated_bills')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_status_submitted')
        batch_op.drop_index(batch_op.f('ix_claims_settlement_id'))
        batch_op.drop_index(batch_op.f('ix_claims_member_id'))

    op.drop_table('claims')
    with op.batch_alter_table('hardship_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hardship_registrations_member_id'))

    op.drop_table('hardship_registrations')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollments_member_id'))

    op.drop_table('enrollments')
    op.drop_table('api_keys')
    op.drop_table('accumulators')
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlements_fixmedins_code'))

    op.drop_table('settlements')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_union_id'))

    op.drop_table('members')
    op.drop_table('unions')
    op.drop_table('hospitals')
    op.drop_table('audit_log')
