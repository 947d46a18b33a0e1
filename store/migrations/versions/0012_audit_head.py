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
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        # No entry may land between reading the log's head and the trigger taking over.
        op.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    # The head as the log stands now (an empty log: position 0, the genesis hash).
    op.execute(f"""
        INSERT INTO audit_head (id, position, entry_hash)
        SELECT 1, COALESCE(MAX(position), 0),
               COALESCE((SELECT entry_hash FROM audit_log ORDER BY position DESC LIMIT 1), '{GENESIS}')
        FROM audit_log""")
    # The append moved the head's position on already (service.audit.record_entries);
    # the entry written at that position gives the head its hash, in the same statement.
    # An entry written past the head some other way (a process still running the code
    # before this migration, a restore) moves the head to it, so the next append follows
    # it instead of failing on a position already taken.
    follow = ("UPDATE audit_head SET position = NEW.position, entry_hash = NEW.entry_hash "
              "WHERE id = 1 AND position <= NEW.position")
    if postgres:
        op.execute(f"""
            CREATE FUNCTION audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {follow};
                RETURN NULL;
            END
            $$""")
        op.execute("CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_head_follows()")
        # One row updated by every append: vacuumed after a thousand dead versions, not a
        # fifth of the table (the default scale would wait for ever on a one-row table).
        op.execute("ALTER TABLE audit_head SET (autovacuum_vacuum_scale_factor = 0, "
                   "autovacuum_vacuum_threshold = 1000)")
    else:
        op.execute(f"CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log BEGIN {follow}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_log_head ON audit_log")
        op.execute("DROP FUNCTION audit_head_follows()")
    else:
        op.execute("DROP TRIGGER audit_log_head")
    op.drop_table('audit_head')
