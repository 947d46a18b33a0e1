"""the hospital desk: settlement cancellations, settlements by hospital and posting time

Revision ID: 0006_desk
Revises: 0005_union_tree_ledger
Create Date: 2026-11-30 08:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_desk'
down_revision = '0005_union_tree_ledger'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'settlement_cancellations',
        sa.Column('settlement_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('cancelled_by', sa.Integer(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['settlement_id'], ['settlements.id'],
                                name=op.f('fk_settlement_cancellations_settlement_id_settlements')),
        sa.ForeignKeyConstraint(['cancelled_by'], ['api_keys.id'],
                                name=op.f('fk_settlement_cancellations_cancelled_by_api_keys')),
        sa.PrimaryKeyConstraint('settlement_id', name=op.f('pk_settlement_cancellations')),
    )
    op.create_index(op.f('ix_settlement_cancellations_cancelled_at'), 'settlement_cancellations', ['cancelled_at'])
    op.create_index('ix_settlements_hospital_posted', 'settlements', ['fixmedins_code', 'posted_at'])


def downgrade() -> None:
    op.drop_index('ix_settlements_hospital_posted', table_name='settlements')
    op.drop_table('settlement_cancellations')
