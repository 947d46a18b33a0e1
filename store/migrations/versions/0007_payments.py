"""payee accounts, payment runs, items, their lines, live line claims, recoveries

Revision ID: 0007_payments
Revises: 0006_desk
Create Date: 2026-11-30 08:15:37.081327
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_payments'
down_revision = '0006_desk'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('union_id', sa.String(length=32), nullable=False),
    sa.Column('decided_from', sa.Date(), nullable=True),
    sa.Column('decided_to', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('made_by', sa.String(length=100), nullable=False),
    sa.Column('made_by_key', sa.Integer(), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('approved_by_key', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['union_id'], ['unions.id'], name=op.f('fk_payment_runs_union_id_unions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_runs'))
    )
    with op.batch_alter_table('payment_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_runs_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_runs_union_id'), ['union_id'], unique=False)

    op.create_table('payee_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('holder_name', sa.String(length=100), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('account_no', sa.String(length=30), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_payee_accounts_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payee_accounts'))
    )
    with op.batch_alter_table('payee_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payee_accounts_member_id'), ['member_id'], unique=False)
        batch_op.create_index('uq_payee_accounts_active_member', ['member_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    op.create_table('payment_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('payee_account_id', sa.Integer(), nullable=False),
    sa.Column('gross', sa.BigInteger(), nullable=False),
    sa.Column('netted', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('bank_ref', sa.String(length=100), nullable=False),
    sa.Column('settled_on', sa.Date(), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('netting_entry_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_payment_items_member_id_members')),
    sa.ForeignKeyConstraint(['payee_account_id'], ['payee_accounts.id'], name=op.f('fk_payment_items_payee_account_id_payee_accounts')),
    sa.ForeignKeyConstraint(['run_id'], ['payment_runs.id'], name=op.f('fk_payment_items_run_id_payment_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_items'))
    )
    with op.batch_alter_table('payment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_items_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_items_run_id'), ['run_id'], unique=False)

    op.create_table('recoveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('line_id', sa.Integer(), nullable=True),
    sa.Column('benefit', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['payment_items.id'], name=op.f('fk_recoveries_item_id_payment_items')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_recoveries_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recoveries'))
    )
    with op.batch_alter_table('recoveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recoveries_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recoveries_member_id'), ['member_id'], unique=False)

    op.create_table('payment_item_lines',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['payment_items.id'], name=op.f('fk_payment_item_lines_item_id_payment_items')),
    sa.ForeignKeyConstraint(['line_id'], ['decision_lines.id'], name=op.f('fk_payment_item_lines_line_id_decision_lines')),
    sa.PrimaryKeyConstraint('item_id', 'line_id', name=op.f('pk_payment_item_lines'))
    )
    with op.batch_alter_table('payment_item_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_item_lines_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_item_lines_line_id'), ['line_id'], unique=False)

    op.create_table('payment_line_claims',
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['payment_items.id'], name=op.f('fk_payment_line_claims_item_id_payment_items')),
    sa.ForeignKeyConstraint(['line_id'], ['decision_lines.id'], name=op.f('fk_payment_line_claims_line_id_decision_lines')),
    sa.PrimaryKeyConstraint('line_id', name=op.f('pk_payment_line_claims'))
    )
    with op.batch_alter_table('payment_line_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_line_claims_item_id'), ['item_id'], unique=False)



def downgrade() -> None:
    for table in ('payment_line_claims', 'payment_item_lines', 'recoveries', 'payment_items', 'payee_accounts',
                  'payment_runs'):
        op.drop_table(table)
