"""the union tree (parent, level, path, league), the ledger's journal entries and postings

Revision ID: 0005_union_tree_ledger
Revises: 0004_i10_audit_keys
Create Date: 2026-11-30 08:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005_union_tree_ledger'
down_revision = '0004_i10_audit_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unions') as batch:
        batch.add_column(sa.Column('parent_id', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('level', sa.String(length=16), server_default='grassroots', nullable=False))
        batch.add_column(sa.Column('path', sa.String(length=700), nullable=True))
        batch.add_column(sa.Column('league_id', sa.String(length=32), nullable=True))
        batch.create_foreign_key(op.f('fk_unions_parent_id_unions'), 'unions', ['parent_id'], ['id'])
    # Unions made before the tree are roots of their own.
    op.execute("UPDATE unions SET path = id || '/'")
    with op.batch_alter_table('unions') as batch:
        batch.alter_column('path', existing_type=sa.String(length=700), nullable=False)
        batch.create_index(op.f('ix_unions_parent_id'), ['parent_id'])
        batch.create_index(op.f('ix_unions_path'), ['path'])

    op.create_table(
        'journal_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=48), nullable=False),
        sa.Column('ref', sa.String(length=100), nullable=False),
        sa.Column('memo', sa.Text(), nullable=False),
        sa.Column('booked_on', sa.Date(), nullable=False),
        sa.Column('reverses_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['reverses_id'], ['journal_entries.id'], name=op.f('fk_journal_entries_reverses_id_journal_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    )
    op.create_index(op.f('ix_journal_entries_event'), 'journal_entries', ['event'])
    op.create_index(op.f('ix_journal_entries_ref'), 'journal_entries', ['ref'])
    op.create_index(op.f('ix_journal_entries_booked_on'), 'journal_entries', ['booked_on'])
    op.create_table(
        'postings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=120), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('fund_source', sa.String(length=16), nullable=True),
        sa.Column('fund_year', sa.Integer(), nullable=True),
        sa.Column('league_id', sa.String(length=32), nullable=True),
        sa.Column('member_id', sa.String(length=64), nullable=True),
        sa.Column('claim_id', sa.Integer(), nullable=True),
        sa.Column('line_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_postings_entry_id_journal_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_postings')),
    )
    op.create_index(op.f('ix_postings_entry_id'), 'postings', ['entry_id'])
    op.create_index(op.f('ix_postings_account'), 'postings', ['account'])
    op.create_index(op.f('ix_postings_member_id'), 'postings', ['member_id'])
    op.create_index(op.f('ix_postings_claim_id'), 'postings', ['claim_id'])
    op.create_index(op.f('ix_postings_line_id'), 'postings', ['line_id'])
    op.create_index('ix_postings_fund', 'postings', ['fund_source', 'fund_year', 'league_id'])


def downgrade() -> None:
    op.drop_table('postings')
    op.drop_table('journal_entries')
    with op.batch_alter_table('unions') as batch:
        batch.drop_index(op.f('ix_unions_path'))
        batch.drop_index(op.f('ix_unions_parent_id'))
        batch.drop_constraint(op.f('fk_unions_parent_id_unions'), type_='foreignkey')
        batch.drop_column('league_id')
        batch.drop_column('path')
        batch.drop_column('level')
        batch.drop_column('parent_id')
