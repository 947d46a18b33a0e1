"""the audit chain's head: one row each append takes, in place of an advisory lock and a read

Revision ID: 0012_audit_head
Revises: 0011_funds
Create Date: 2026-11-30 12:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_audit_head'
down_revision = '0011_funds'
branch_labels = None
depends_on = None

GENESIS = '0' * 64


def upgrade() -> None:
    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=False),
        sa.Column('entry_hash', sa.String(length=64), nullable=False),
        sa.CheckConstraint('id = 1', name='ck_audit_head_one_row'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )
    # The head as the log stands now (an empty log: position 0, the genesis hash).
    op.execute(f"""
        INSERT INTO audit_head (id, position, entry_hash)
        SELECT 1, COALESCE(MAX(position), 0),
               COALESCE((SELECT entry_hash FROM audit_log ORDER BY position DESC LIMIT 1), '{GENESIS}')
        FROM audit_log""")
    # The append moved the head's position on already (service.audit.record_entries);
    # the entry written at that position gives the head its hash, in the same statement.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("""
            CREATE FUNCTION audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE audit_head SET entry_hash = NEW.entry_hash WHERE id = 1 AND position = NEW.position;
                RETURN NULL;
            END
            $$""")
        op.execute("CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_head_follows()")
    else:
        op.execute("CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log BEGIN "
                   "UPDATE audit_head SET entry_hash = NEW.entry_hash WHERE id = 1 AND position = NEW.position; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_log_head ON audit_log")
        op.execute("DROP FUNCTION audit_head_follows()")
    else:
        op.execute("DROP TRIGGER audit_log_head")
    op.drop_table('audit_head')
