"""audit chain positions, key expiry

Revision ID: 0004_i10_audit_keys
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004_i10_audit_keys'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('audit_log') as batch:
        batch.add_column(sa.Column('position', sa.BigInteger(), nullable=True))
    # Entries written so far were chained in id order: number them 1, 2, 3... in that order.
    # (UPDATE ... FROM: PostgreSQL, and SQLite from 3.33.)
    op.execute("UPDATE audit_log SET position = numbered.n FROM "
               "(SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM audit_log) AS numbered "
               "WHERE numbered.id = audit_log.id")
    with op.batch_alter_table('audit_log') as batch:
        batch.alter_column('position', existing_type=sa.BigInteger(), nullable=False)
        batch.create_unique_constraint(op.f('uq_audit_log_position'), ['position'])


def downgrade() -> None:
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_constraint(op.f('uq_audit_log_position'), type_='unique')
        batch.drop_column('position')
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('expires_at')
