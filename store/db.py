"""Database connections: SQLite by default (a file, WAL), PostgreSQL in production.

The URL comes from ``--db`` or ``CLAIMS_DATABASE_URL``; a bare path means a SQLite
file. The schema is made and upgraded by the Alembic migrations in
``store/migrations``, never by ``create_all``, so both databases run the same
migrations.

On SQLite every transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock
up front, so two claims for one member can never both read the same accumulators and
both write (SQLite's default deferred transactions would fail the second writer with
"database is locked" midway instead). PostgreSQL locks the member row instead
(``store.repositories.lock_members``, in the order ``service.claim_aggregate`` documents).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE = "claims.db"
ENV_URL = "CLAIMS_DATABASE_URL"


def database_url(value: str | None = None) -> str:
    """A SQLAlchemy URL from ``--db``, the environment, or the default SQLite file."""
    value = value or os.environ.get(ENV_URL) or DEFAULT_SQLITE
    if "://" not in value:
        return f"sqlite:///{Path(value).resolve()}"
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a decision that was answered 2xx survives a crash
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs) -> Engine:
    url = database_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("store").joinpath("migrations")))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the Alembic migrations."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
