"""Migration 0012 on a database that already has an audit log: its head is the log's last entry.

A federation upgrading keeps its log; the first append after the upgrade must follow
that log's last entry, and ``claims audit verify`` must still find the chain whole.
Also shown: the migration goes down again (the head and its trigger removed), and an entry
written past the head some other way (a process still running the code before the
migration) moves the head, so the next append follows it instead of failing.
"""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, insert

from service import audit
from service.auth import CLI
from store import models
from store.db import alembic_config, make_engine, session_factory, upgrade
from tests.databases import fresh_database


def test_upgrading_a_database_with_a_log_gives_the_head_its_last_entry(backend: str, tmp_path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            command.downgrade(alembic_config(engine), "0011_funds")
            assert "audit_head" not in inspect(engine).get_table_names()
            prev = audit.GENESIS
            with engine.begin() as conn:  # three entries chained as the service wrote them before
                for position in (1, 2, 3):
                    entry_hash = audit._entry_hash(prev, "cli", "union.created", "union", f"U{position}", {})
                    conn.execute(insert(models.AuditEntry.__table__).values(
                        position=position, actor="cli", action="union.created", entity="union",
                        entity_id=f"U{position}", details={}, prev_hash=prev, entry_hash=entry_hash))
                    prev = entry_hash
            upgrade(engine)
            with session_factory(engine)() as session:
                head = session.get(models.AuditHead, 1)
                assert (head.position, head.entry_hash) == (3, prev)
                audit.record_entries(session, CLI, [("union.created", "union", "U4", {}),
                                                    ("union.created", "union", "U5", {})])
                session.commit()
                session.expire_all()
                head = session.get(models.AuditHead, 1)
                last = audit.head(session)
                assert (head.position, head.entry_hash) == last and last[0] == 5
                assert audit.verify(session) == []
        finally:
            engine.dispose()


def test_an_entry_written_past_the_head_moves_the_head_and_the_next_append_follows_it(backend: str, tmp_path) -> None:
    """As a process still running the code before migration 0012 writes (under its own lock, at the
    log's last position + 1): the head follows that entry instead of the next append failing."""
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            with session_factory(engine)() as session:
                audit.record_entries(session, CLI, [("union.created", "union", "U1", {})])
                session.commit()
                position, prev = audit.head(session)
                entry_hash = audit._entry_hash(prev, "cli", "union.created", "union", "U2", {})
                session.execute(insert(models.AuditEntry.__table__).values(
                    position=position + 1, actor="cli", action="union.created", entity="union", entity_id="U2",
                    details={}, prev_hash=prev, entry_hash=entry_hash))
                session.commit()
                session.expire_all()
                head = session.get(models.AuditHead, 1)
                assert (head.position, head.entry_hash) == (position + 1, entry_hash)
                audit.record_entries(session, CLI, [("union.created", "union", "U3", {})])
                session.commit()
                assert audit.head(session)[0] == position + 2 and audit.verify(session) == []
        finally:
            engine.dispose()
