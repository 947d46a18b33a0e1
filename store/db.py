"""Database connections: SQLite by default (a file, WAL), PostgreSQL in production.

The URL comes from ``--db`` or ``CLAIMS_DATABASE_URL``; a bare path means a SQLite
file. The schema is made and upgraded by the Alembic migrations in
``store/migrations``, never by ``create_all``, so both databases run the same
migrations.

Reads and writes on SQLite. A session of ``session_factory`` (every request that may
write, the command line, jobs) starts its transaction with ``BEGIN IMMEDIATE``: it
takes the write lock up front, so two claims for one member can never both read the
same accumulators and both write (SQLite's default deferred transactions would fail
the second writer with "database is locked" midway instead). A session of
``read_session_factory`` (GET and HEAD requests, ``/health``) starts with a deferred
``BEGIN``: in WAL mode it reads a snapshot and neither waits for the writer nor holds
it up, so a long import does not stall every read. The one mechanism is the engine's
execution option ``READ_ONLY``, which the ``begin`` listener reads; a read-only
transaction also runs with ``PRAGMA query_only``, so a write slipped into a GET fails
at once in the tests instead of upgrading a snapshot that may be stale.

PostgreSQL never locks for reads; it locks the member row instead
(``store.repositories.lock_members``, in the order ``service.claim_aggregate``
documents), and both kinds of session behave alike there.

A lock waited for longer than ``lock_timeout()`` seconds (``CLAIMS_LOCK_TIMEOUT``,
default 30) fails the statement: SQLite's busy timeout ("database is locked"),
PostgreSQL's ``lock_timeout`` (SQLSTATE 55P03). ``api.problems`` answers either 503
with ``Retry-After``.
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
ENV_LOCK_TIMEOUT = "CLAIMS_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0
# The execution option that marks a read-only engine (read_session_factory).
READ_ONLY = "claims_read_only"


def database_url(value: str | None = None) -> str:
    """A SQLAlchemy URL from ``--db``, the environment, or the default SQLite file."""
    value = value or os.environ.get(ENV_URL) or DEFAULT_SQLITE
    if "://" not in value:
        return f"sqlite:///{Path(value).resolve()}"
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def lock_timeout() -> float:
    """Seconds a statement waits for a lock before it fails (``CLAIMS_LOCK_TIMEOUT``, default 30)."""
    value = os.environ.get(ENV_LOCK_TIMEOUT)
    try:
        seconds = float(value) if value else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        raise ValueError(f"{ENV_LOCK_TIMEOUT} must be a number of seconds, not {value!r}") from None
    if not seconds > 0:
        raise ValueError(f"{ENV_LOCK_TIMEOUT} must be more than 0 seconds, not {value!r}")
    return seconds


def _sqlite_pragmas(timeout: float):
    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a decision that was answered 2xx survives a crash
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()
    return on_connect


def _sqlite_begin(conn) -> None:
    # The pragma is per connection and pooled connections serve both kinds of session:
    # set it at every begin, either way.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("PRAGMA query_only=ON")
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("PRAGMA query_only=OFF")
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# Connections a worker's pool holds (the pool's own, then its overflow). A worker runs at
# most ``api.deps.CONCURRENT_UNITS_OF_WORK`` ordinary units of work and ``api.deps.DESK_TURNS``
# desk units at once; each pool holds them all (tests/api/test_api_desk_turns.py), so a
# unit never waits for a connection another kind holds (on SQLite, 30 s and a 503).
SQLITE_POOL = {"pool_size": 5, "max_overflow": 12}
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 10}


def make_engine(url: str | None = None, **kwargs) -> Engine:
    url = database_url(url)
    timeout = lock_timeout()
    if make_url(url).get_backend_name() == "sqlite":
        pool = {} if "poolclass" in kwargs else SQLITE_POOL
        engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False}, **pool, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(timeout))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **POSTGRES_POOL,
                           connect_args={"options": f"-c lock_timeout={int(timeout * 1000)}"}, **kwargs)
    # Rows inserted together go as one INSERT ... VALUES (...), (...) (SQLAlchemy's
    # "insertmanyvalues", in pages within PostgreSQL's parameter limit), as they do for
    # psycopg2, instead of psycopg's pipelined executemany: a one-stop settlement writes
    # five small multi-row inserts, and the pipeline's Python round cost more of the
    # worker's time than the statement (7.75 -> 7.42 ms a settlement at 150/s).
    engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that may write (on SQLite each transaction takes the write lock)."""
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read (on SQLite a snapshot that waits for no writer; see above)."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False, autoflush=False)


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
