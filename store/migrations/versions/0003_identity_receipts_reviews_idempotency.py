"""identity (certno), receipt notes, reviewed lines, idempotent requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('members') as batch:
        batch.add_column(sa.Column('certno', sa.String(length=18), nullable=True))
        batch.create_unique_constraint(op.f('uq_members_certno'), ['certno'])
    with op.batch_alter_table('settlements') as batch:
        batch.add_column(sa.Column('certno', sa.String(length=18), nullable=True))
        batch.create_index(op.f('ix_settlements_certno'), ['certno'], unique=False)
    with op.batch_alter_table('claims') as batch:
        batch.add_column(sa.Column('receipt_note', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('claims') as batch:  # the default only fills the rows already there
        batch.alter_column('receipt_note', server_default=None)
    with op.batch_alter_table('decision_lines') as batch:
        batch.add_column(sa.Column('reviewed', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('idempotent_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_idempotent_requests_api_key_id_api_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotent_requests')),
    sa.UniqueConstraint('api_key_id', 'idempotency_key', name=op.f('uq_idempotent_requests_api_key_id'))
    )
    op.create_index(op.f('ix_idempotent_requests_api_key_id'), 'idempotent_requests', ['api_key_id'], unique=False)
    op.create_index(op.f('ix_idempotent_requests_created_at'), 'idempotent_requests', ['created_at'], unique=False)
    # Lines reviewed before this migration carry a review note.
    op.execute("UPDATE decision_lines SET reviewed = (review_note <> '')")


def downgrade() -> None:
    op.drop_index(op.f('ix_idempotent_requests_created_at'), table_name='idempotent_requests')
    op.drop_index(op.f('ix_idempotent_requests_api_key_id'), table_name='idempotent_requests')
    op.drop_table('idempotent_requests')
    with op.batch_alter_table('decision_lines') as batch:
        batch.drop_column('reviewed')
    with op.batch_alter_table('claims') as batch:
        batch.drop_column('receipt_note')
    with op.batch_alter_table('settlements') as batch:
        batch.drop_index(op.f('ix_settlements_certno'))
        batch.drop_column('certno')
    with op.batch_alter_table('members') as batch:
        batch.drop_constraint(op.f('uq_members_certno'), type_='unique')
        batch.drop_column('certno')
