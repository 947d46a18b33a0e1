"""``claims audit verify`` on SQLite and PostgreSQL: an intact chain passes, an edit or a deletion is named.

The chain is made by what the service records: a union, a hospital, members and
their enrollments, and claims (settlement posted, claim adjudicated). Entries are then
changed behind the service's back, as someone with write access to the database
would, and the command is run as an operator runs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, update

from store import models
from store.db import make_engine, session_factory

from .live import YEAR, bill, claim_in_process, run_cli, seed


@pytest.fixture
def audited(database_url: str) -> Iterator[tuple[str, list[int]]]:
    """A database with a chain of audit entries; yields its URL and the entry ids in order."""
    seed(database_url, ["A1", "A2"])
    for n, member in enumerate(("A1", "A2", "A1")):
        claim_in_process(database_url, member, bill(f"AUDIT-{n}", f"{1500 + n}.00", patient=member, begndate=f"{YEAR}-05-02",
                                                   enddate=f"{YEAR}-05-12"))
    yield database_url, _entry_ids(database_url)


def _entry_ids(url: str) -> list[int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(models.AuditEntry.id).order_by(models.AuditEntry.id)))
    finally:
        engine.dispose()


def _change(url: str, statement) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            assert s.execute(statement).rowcount == 1
            s.commit()
    finally:
        engine.dispose()


def test_an_intact_audit_chain_verifies(audited):
    url, ids = audited
    assert len(ids) >= 10
    run = run_cli("audit", "verify", "--db", url)
    assert (run.returncode, run.stdout.strip()) == (0, "ok: the audit chain is intact"), run.stderr


def test_an_edited_audit_entry_is_named_and_verification_fails(audited):
    url, ids = audited
    edited = ids[len(ids) // 2]
    _change(url, update(models.AuditEntry).where(models.AuditEntry.id == edited)
            .values(details={"status": "approved", "total": "99999.00"}))
    run = run_cli("audit", "verify", "--db", url)
    assert run.returncode == 1, run.stdout + run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith(f"entry {edited} (") and first.endswith(") was edited"), run.stdout


def test_a_deleted_audit_entry_is_named_and_verification_fails(audited):
    url, ids = audited
    deleted = ids[len(ids) // 2]
    _change(url, delete(models.AuditEntry).where(models.AuditEntry.id == deleted))
    run = run_cli("audit", "verify", "--db", url)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.splitlines()[:2] == [
        f"entries {deleted}..{deleted} are missing (deleted?)",
        f"entry {deleted + 1} does not follow the entry before it (an entry before it was changed or deleted)",
    ]
