"""Reads never wait for a writer; a write that waits for a lock past the timeout is 503.

``store.db``: GET and HEAD requests run in read-only sessions (on SQLite a deferred
``BEGIN`` that reads a WAL snapshot), every other method in one that takes the write
lock (``BEGIN IMMEDIATE``); a lock waited for past ``CLAIMS_LOCK_TIMEOUT`` fails the
statement, and ``api.problems`` answers 503 with ``Retry-After``.

Here another connection holds the lock a write needs (on SQLite the write lock, on
PostgreSQL the ``unions`` table) while the requests run, with a lock timeout of a
fraction of a second: a read that waited for it would end in 503 too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from api.app import create_app
from store import models
from store.db import ENV_LOCK_TIMEOUT, make_engine, read_session_factory, session_factory
from tests.api.builders import auth
from tests.api.test_api_problems import assert_problem
from tests.databases import fresh_database

LOCK_TIMEOUT = "0.3"


@pytest.fixture
def impatient(database_url: str, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The API on the test database, its statements waiting at most LOCK_TIMEOUT seconds for a lock."""
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, LOCK_TIMEOUT)
    app = create_app(database_url, migrate=False)
    with TestClient(app) as impatient_client:
        yield impatient_client
    app.state.db.dispose()


def _hold_the_lock_a_union_needs(conn, backend: str) -> None:
    if backend == "postgres":
        # EXCLUSIVE: plain reads go on (an officer's key reads their union subtree), writes wait.
        conn.execute(text("LOCK TABLE unions IN EXCLUSIVE MODE"))
    # On SQLite the connection's transaction already holds the write lock (BEGIN IMMEDIATE).


def test_reads_are_answered_while_another_transaction_writes_and_a_write_waiting_past_the_timeout_is_503(
    impatient: TestClient, cast, db: Engine, backend: str, session
) -> None:
    unions = session.scalar(select(func.count()).select_from(models.Union))
    with db.begin() as holder:
        _hold_the_lock_a_union_needs(holder, backend)
        health = impatient.get("/health")
        members = impatient.get("/v1/members", headers=auth(cast.officer))
        union = impatient.post("/v1/unions", json={"id": "U9", "name": "包头市总工会"}, headers=auth(cast.admin))

    assert health.status_code == 200, health.text
    assert members.status_code == 200 and members.json()["total"] == 2, members.text
    body = assert_problem(union, 503)
    assert union.headers["Retry-After"].isdigit()
    assert body["type"] == "/problems/busy" and "lock" in body["detail"]
    assert session.scalar(select(func.count()).select_from(models.Union)) == unions
    # Once the lock is free the same request goes through.
    assert impatient.post("/v1/unions", json={"id": "U9", "name": "包头市总工会"},
                          headers=auth(cast.admin)).status_code == 201


def test_a_read_only_session_cannot_write_on_sqlite(tmp_path: Path) -> None:
    # A write slipped into a GET would upgrade a snapshot that may be stale: on SQLite
    # the read-only session refuses it outright, so the tests find such a GET. The
    # writing session of the same engine (same pooled connection) still writes.
    with fresh_database("sqlite", tmp_path) as url:
        engine = make_engine(url, poolclass=StaticPool)
        try:
            with read_session_factory(engine)() as s:
                with pytest.raises(OperationalError, match="readonly"):
                    s.execute(text("INSERT INTO unions (id, name, region, path) VALUES ('U8', 'x', '', 'U8/')"))
            with session_factory(engine)() as s:
                s.execute(text("INSERT INTO unions (id, name, region, path) VALUES ('U8', 'x', '', 'U8/')"))
                s.commit()
                assert s.scalar(select(func.count()).select_from(models.Union)) == 1
        finally:
            engine.dispose()
