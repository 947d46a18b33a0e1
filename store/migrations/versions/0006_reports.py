"""claim facts for the federation reports (union, dates, hospital grade, main diagnosis per claim)

Revision ID: 0006_reports
Revises: 0005_union_tree_ledger
Create Date: 2026-11-30 08:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_reports'
down_revision = '0005_union_tree_ledger'
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
    # Claims decided before this table existed: their facts from the claim, member and settlement.
    op.execute(
        "INSERT INTO claim_facts (claim_id, member_id, union_id, submitted_on, decided_on, admitted_on, hosp_lv, "
        "main_diagnosis) SELECT c.id, c.member_id, m.union_id, c.submitted_on, CAST(c.created_at AS DATE), "
        "s.begndate, h.grade, '' FROM claims c JOIN members m ON m.id = c.member_id "
        "JOIN settlements s ON s.id = c.settlement_id JOIN hospitals h ON h.code = s.fixmedins_code"
    )


def downgrade() -> None:
    op.drop_table('claim_facts')
