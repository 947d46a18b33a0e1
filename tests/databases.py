"""Throwaway databases for the tests that need a real one: a SQLite file, or a PostgreSQL
database made through the server's own database and dropped afterwards.

The server comes from CLAIMS_TEST_POSTGRES_URL (default: the local ``test`` database).
One that cannot be reached raises ``PostgresUnreachable``; the fixtures turn it into a
failure, never a skip.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from store.db import make_engine, upgrade

# The ledger's tables refuse UPDATE and DELETE (migration 0006_ledger).
APPEND_ONLY_TABLES = ("journal_entries", "postings")

POSTGRES_URL = os.environ.get("CLAIMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

_names = itertools.count(1)


class PostgresUnreachable(RuntimeError):
    """The PostgreSQL server of CLAIMS_TEST_POSTGRES_URL did not answer."""


def _postgres_server_url() -> str:
    url = make_url(POSTGRES_URL)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def postgres_admin() -> Engine:
    """An AUTOCOMMIT engine on the server's own database (CREATE/DROP DATABASE need it)."""
    engine = create_engine(_postgres_server_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # any failure to connect: refused, unknown host, auth...
        engine.dispose()
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise PostgresUnreachable(
            f"PostgreSQL is not reachable at {make_url(POSTGRES_URL).render_as_string()} (set CLAIMS_TEST_POSTGRES_URL, "
            f"or start it: scripts/ensure-postgres.sh): {type(err).__name__}: {first}"
        ) from None
    return engine


@contextmanager
def without_ledger_guard(conn: Connection) -> Iterator[None]:
    """Within ``conn``'s transaction, let the append-only ledger tables be emptied (a test's reset).

    The guard is back when the block ends, in the same transaction, so no other
    connection ever sees the tables unguarded. PostgreSQL: the tables' own triggers
    are disabled (foreign keys, system triggers, still hold). SQLite has no such
    switch: the triggers are dropped and made again from their stored SQL.
    """
    if conn.dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield
        for table in APPEND_ONLY_TABLES:
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return
    triggers = conn.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN " + str(APPEND_ONLY_TABLES)
    )).all()
    for name, _ in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _, sql in triggers:
        conn.exec_driver_sql(sql)


@contextmanager
def fresh_database(backend: str, workdir: Path, *, durable: bool = True) -> Iterator[str]:
    """A migrated, empty database of ``backend``; yields its URL. PostgreSQL ones are dropped after.

    ``durable=False`` lets PostgreSQL answer a commit before it reaches the disk: for
    tests that never stop the database server itself.
    """
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'claims-{next(_names)}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    admin = postgres_admin()
    name = f"claims_test_{os.getpid()}_{next(_names)}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        if not durable:
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = make_url(_postgres_server_url()).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
