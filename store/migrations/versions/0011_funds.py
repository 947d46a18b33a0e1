"""relief allocations, fund pools and line charges (issue 11, funds)

Revision ID: 0011_funds
Revises: 0010_reports
Create Date: 2026-11-30 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_funds'
down_revision = '0010_reports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'relief_allocations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('fund_year', sa.Integer(), nullable=False),
        sa.Column('league_id', sa.String(length=32), nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('reference', sa.String(length=100), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['league_id'], ['unions.id'], name=op.f('fk_relief_allocations_league_id_unions')),
        sa.ForeignKeyConstraint(['recorded_by'], ['api_keys.id'], name=op.f('fk_relief_allocations_recorded_by_api_keys')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_allocations')),
        sa.UniqueConstraint('source', 'fund_year', 'reference', name=op.f('uq_relief_allocations_source')),
    )
    op.create_index(op.f('ix_relief_allocations_fund_year'), 'relief_allocations', ['fund_year'])
    op.create_table(
        'fund_pools',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('fund_year', sa.Integer(), nullable=False),
        sa.Column('league_id', sa.String(length=32), nullable=False),
        sa.Column('allocated', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('charged', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_pools')),
        sa.UniqueConstraint('source', 'fund_year', 'league_id', name=op.f('uq_fund_pools_source')),
    )
    op.create_table(
        'line_charges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('line_id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('benefit', sa.String(length=32), nullable=False),
        sa.Column('fund', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=True),
        sa.Column('fund_year', sa.Integer(), nullable=False),
        sa.Column('league_id', sa.String(length=32), nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_line_charges_claim_id_claims')),
        sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_line_charges_entry_id_journal_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_line_charges')),
    )
    op.create_index(op.f('ix_line_charges_line_id'), 'line_charges', ['line_id'])
    op.create_index(op.f('ix_line_charges_claim_id'), 'line_charges', ['claim_id'])
    op.create_index(op.f('ix_line_charges_member_id'), 'line_charges', ['member_id'])
    op.create_index('ix_line_charges_fund', 'line_charges', ['source', 'fund_year', 'league_id'])


def downgrade() -> None:
    op.drop_table('line_charges')
    op.drop_table('fund_pools')
    op.drop_table('relief_allocations')
