"""contributions; the ledger's tables refuse UPDATE and DELETE (append-only)

Revision ID: 0008_ledger
Revises: 0007_payments
Create Date: 2026-11-30 08:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_ledger'
down_revision = '0007_payments'
branch_labels = None
depends_on = None

# A mistake in the ledger is corrected by a reversing entry, never by an edit
# (funds.md §4): the database itself refuses to change or remove a row, whoever asks.
# INSERT stays allowed. (Tests that wipe the tables between tests lift the guard for
# their own transaction: tests/databases.py, without_ledger_guard.)
APPEND_ONLY = ('journal_entries', 'postings')
MESSAGE = 'is append-only: correct it with a reversing entry'


def upgrade() -> None:
    op.create_table(
        'contributions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('enrollment_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('members_amount', sa.BigInteger(), nullable=False),
        sa.Column('union_subsidy_amount', sa.BigInteger(), nullable=False),
        sa.Column('recorded_on', sa.Date(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_contributions_member_id_members')),
        sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_contributions_enrollment_id_enrollments')),
        sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_contributions_entry_id_journal_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contributions')),
        sa.UniqueConstraint('enrollment_id', name=op.f('uq_contributions_enrollment_id')),
    )
    op.create_index(op.f('ix_contributions_member_id'), 'contributions', ['member_id'])

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""
            CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% {MESSAGE} (% refused)', TG_TABLE_NAME, TG_OP;
            END
            $$""")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")
    else:
        for table in APPEND_ONLY:
            for action in ('UPDATE', 'DELETE'):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} {MESSAGE} ({action} refused)'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION ledger_append_only()")
    else:
        for table in APPEND_ONLY:
            for action in ('update', 'delete'):
                op.execute(f"DROP TRIGGER {table}_no_{action}")
    op.drop_index(op.f('ix_contributions_member_id'), table_name='contributions')
    op.drop_table('contributions')
