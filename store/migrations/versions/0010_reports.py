"""claim facts for the federation reports (union, dates, hospital grade, main diagnosis per claim)

Revision ID: 0010_reports
Revises: 0009_console
Create Date: 2026-11-30 08:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_reports'
down_revision = '0009_console'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'claim_facts',
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('union_id', sa.String(length=32), nullable=False),
        sa.Column('submitted_on', sa.Date(), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('admitted_on', sa.Date(), nullable=False),
        sa.Column('hosp_lv', sa.String(length=2), nullable=False),
        sa.Column('main_diagnosis', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_claim_facts_claim_id_claims')),
        sa.PrimaryKeyConstraint('claim_id', name=op.f('pk_claim_facts')),
    )
    op.create_index(op.f('ix_claim_facts_submitted_on'), 'claim_facts', ['submitted_on'])
    op.create_index('ix_claim_facts_union_submitted', 'claim_facts', ['union_id', 'submitted_on'])
    op.create_table(
        'report_charges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('booked_on', sa.Date(), nullable=False),
        sa.Column('line_id', sa.Integer(), nullable=False),
        sa.Column('adjusts', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('union_id', sa.String(length=32), nullable=False),
        sa.Column('account', sa.String(length=120), nullable=False),
        sa.Column('main_diagnosis', sa.String(length=32), nullable=False),
        sa.Column('hosp_lv', sa.String(length=2), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_report_charges_entry_id_journal_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_charges')),
    )
    op.create_index(op.f('ix_report_charges_entry_id'), 'report_charges', ['entry_id'])
    op.create_index(op.f('ix_report_charges_booked_on'), 'report_charges', ['booked_on'])
    op.create_index(op.f('ix_report_charges_line_id'), 'report_charges', ['line_id'])
    op.create_index('ix_report_charges_union_booked', 'report_charges', ['union_id', 'booked_on'])
    op.create_index('ix_report_charges_adjusts', 'report_charges', ['adjusts', 'booked_on'])
    op.create_table(
        'report_relief',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('booked_on', sa.Date(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('union_id', sa.String(length=32), nullable=False),
        sa.Column('fund_source', sa.String(length=16), nullable=False),
        sa.Column('league_id', sa.String(length=32), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_report_relief_entry_id_journal_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_relief')),
    )
    op.create_index(op.f('ix_report_relief_entry_id'), 'report_relief', ['entry_id'])
    op.create_index(op.f('ix_report_relief_booked_on'), 'report_relief', ['booked_on'])
    op.create_table(
        'report_payments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('union_id', sa.String(length=32), nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=False),
        sa.Column('submitted_on', sa.Date(), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_report_payments_entry_id_journal_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_payments')),
    )
    op.create_index(op.f('ix_report_payments_entry_id'), 'report_payments', ['entry_id'])
    op.create_index(op.f('ix_report_payments_claim_id'), 'report_payments', ['claim_id'])
    op.create_index(op.f('ix_report_payments_submitted_on'), 'report_payments', ['submitted_on'])
    op.create_table(
        'report_money',
        sa.Column('booked_on', sa.Date(), nullable=False),
        sa.Column('account', sa.String(length=120), nullable=False),
        sa.Column('fund_source', sa.String(length=16), nullable=False),
        sa.Column('league_id', sa.String(length=32), nullable=False),
        sa.Column('union_id', sa.String(length=32), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('booked_on', 'account', 'fund_source', 'league_id', 'union_id', name=op.f('pk_report_money')),
    )
    # Claims decided before this table existed: their facts from the claim, member and settlement.
    op.execute(
        "INSERT INTO claim_facts (claim_id, member_id, union_id, submitted_on, decided_on, admitted_on, hosp_lv, "
        "main_diagnosis) SELECT c.id, c.member_id, m.union_id, c.submitted_on, CAST(c.created_at AS DATE), "
        "s.begndate, h.grade, '' FROM claims c JOIN members m ON m.id = c.member_id "
        "JOIN settlements s ON s.id = c.settlement_id JOIN hospitals h ON h.code = s.fixmedins_code"
    )


    # Ledger entries posted before this revision: their report rows (service.report_facts.rebuild).
    from service import report_facts
    report_facts.rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table('report_money')
    op.drop_table('report_payments')
    op.drop_table('report_relief')
    op.drop_table('report_charges')
    op.drop_table('claim_facts')
