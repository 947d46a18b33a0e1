"""Fixtures of the service tests: every database test runs on SQLite and on PostgreSQL.

``backend`` is a session-scoped parametrisation, so pytest runs all the SQLite tests on
one migrated temporary file, then all the PostgreSQL tests on one database made for
this run (``claims_test_<pid>_<n>``, ``tests/databases.py``, created through the server's ``test`` database and
dropped at the end). Both are migrated once with the Alembic migrations, as in
production; the app is built with ``migrate=False`` on top.

A PostgreSQL that cannot be reached makes the PostgreSQL tests ERROR with the URL
tried; they are never skipped (CI must not pass with half the suite silently gone).
``-m "not postgres"`` deselects them on purpose.

Before each test the database goes back to what it held right after the app started
(the published default plan, nothing else): rows are deleted in reverse dependency
order and the start-up rows put back. The tables are small, so this is faster than
TRUNCATE on PostgreSQL, and sequences need not restart: no test counts on an id.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, event, insert, select
from sqlalchemy.orm import Session

# tests/builders.py is imported as plain ``builders`` by the engine tests, and pytest's
# default import mode puts both test folders on sys.path; this folder's builders are
# imported by their full name instead, which needs the repository root on the path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from service import registry  # noqa: E402
from service.auth import CLI, Role, create_key  # noqa: E402
from service.schemas import EnrollmentCreate, HospitalCreate, MemberCreate, UnionCreate  # noqa: E402
from store.db import make_engine, session_factory  # noqa: E402
from store.models import Base  # noqa: E402
from tests.api import builders as b  # noqa: E402
from tests.databases import PostgresUnreachable, fresh_database, without_ledger_guard  # noqa: E402



# ----------------------------------------------------------------------------- databases


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database of the backend, for the whole run."""
    try:
        # A throwaway database: no need to wait for each commit to reach the disk.
        with fresh_database(backend, tmp_path_factory.mktemp("db"), durable=False) as url:
            yield url
    except PostgresUnreachable as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Engine]:
    """An engine on the test database, for setting up and checking behind the API's back."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(database_url: str):
    app = create_app(database_url, migrate=False)
    yield app
    app.state.db.dispose()


@pytest.fixture(scope="session")
def _started(app, db: Engine) -> Iterator[tuple[TestClient, dict[str, list[dict]]]]:
    """The client, and the rows the app itself put in the database when it started."""
    with db.connect() as conn:
        startup = {t.name: [dict(r) for r in conn.execute(select(t)).mappings()] for t in Base.metadata.sorted_tables}
    with TestClient(app) as client:
        yield client, {name: rows for name, rows in startup.items() if rows}


def _reset(db: Engine, startup: dict[str, list[dict]]) -> None:
    """Every table back to what it held right after start-up."""
    with db.begin() as conn, without_ledger_guard(conn):
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
        for table in Base.metadata.sorted_tables:
            if table.name in startup:
                conn.execute(insert(table), startup[table.name])


@pytest.fixture
def client(_started: tuple[TestClient, dict[str, list[dict]]], db: Engine) -> TestClient:
    """The API on a database as the app left it on start-up (empty, but for the default plan)."""
    client, startup = _started
    _reset(db, startup)
    client.app.state.sign_in_limiter.reset()  # refused keys of earlier tests do not count against this one
    return client


@pytest.fixture(scope="session")
def _autocommit(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def session(_autocommit: Engine, client: TestClient) -> Iterator[Session]:
    """A session to look behind the API: each statement commits on its own.

    So it never holds a lock the API waits for (store.db begins every SQLite
    transaction with BEGIN IMMEDIATE) nor reads an old snapshot; objects it loaded are
    expired before each query, so every query sees what the API has stored since.
    """
    with Session(_autocommit) as s:
        event.listen(s, "do_orm_execute", lambda _state: s.expire_all())
        yield s


# ----------------------------------------------------------------------------- the cast


@dataclass(frozen=True)
class Cast:
    """Who acts in most tests: two unions, two hospitals, three members, a key for each role.

    The union tree: the region ``R`` → leagues ``L1`` and ``L2``; ``L1`` → the workplace
    union ``U1``; ``L2`` → the county ``C2`` → the workplace union ``U2``.
    ``U1`` is the union of the members ``M1`` and ``M2`` (both renewing members,
    enrolled last year and this); ``U2`` has ``M3``. Their resident identity numbers
    are ``builders.CERTNO``. ``H1`` and ``H2`` are grade-02
    hospitals. Keys: ``admin``; ``officer`` (U1) and ``officer_other`` (U2);
    officers higher up: ``officer_region`` (R, sees everything), ``officer_league`` (L1:
    U1), ``officer_county`` (C2: U2); finance officers: ``finance`` and
    ``finance_checker`` (two people of R), ``finance_league`` (L1) and ``finance_other``
    (L2); ``hospital`` (H1) and ``hospital_other`` (H2); ``member`` (M1) and
    ``member_other`` (M2, a colleague in the same union).
    """

    admin: str
    officer: str
    officer_other: str
    hospital: str
    hospital_other: str
    member: str
    member_other: str
    officer_region: str = ""
    officer_league: str = ""
    officer_county: str = ""
    finance: str = ""
    finance_checker: str = ""
    finance_league: str = ""
    finance_other: str = ""


def make_key(db: Engine, role: Role, **scope: str) -> str:
    with session_factory(db)() as s:
        _, key = create_key(s, role, **scope)
        s.commit()
    return key


@pytest.fixture
def admin_key(client: TestClient, db: Engine) -> str:
    return make_key(db, Role.ADMIN, label="test administrator")


@pytest.fixture
def cast(client: TestClient, db: Engine) -> Cast:
    """Made through the services in one transaction (the registry API has its own tests)."""
    return _make_cast(db)


def _make_cast(db: Engine) -> Cast:
    with session_factory(db)() as s:
        for union, parent, level in (("R", None, "region"), ("L1", "R", "league"), ("L2", "R", "league"),
                                     ("C2", "L2", "county"), ("U1", "L1", "grassroots"), ("U2", "C2", "grassroots")):
            registry.create_union(s, CLI, UnionCreate(id=union, name=f"{union} 总工会", parent_id=parent, level=level))
        for hospital in ("H1", "H2"):
            registry.create_hospital(s, CLI, HospitalCreate(code=hospital, name=f"{hospital} 医院", grade="02"))
        for member, union in (("M1", "U1"), ("M2", "U1"), ("M3", "U2")):
            registry.create_member(s, CLI, MemberCreate(id=member, union_id=union, gender="F", certno=b.CERTNO[member]))
            for year in (b.YEAR - 1, b.YEAR):
                registry.add_enrollment(s, CLI, member, EnrollmentCreate(**b.enrollment(year)))

        def key(role: Role, **scope: str) -> str:
            return create_key(s, role, **scope)[1]

        cast = Cast(
            admin=key(Role.ADMIN),
            officer=key(Role.OFFICER, union_id="U1"),
            officer_other=key(Role.OFFICER, union_id="U2"),
            hospital=key(Role.HOSPITAL, hospital_code="H1"),
            hospital_other=key(Role.HOSPITAL, hospital_code="H2"),
            member=key(Role.MEMBER, member_id="M1"),
            member_other=key(Role.MEMBER, member_id="M2"),
            officer_region=key(Role.OFFICER, union_id="R"),
            officer_league=key(Role.OFFICER, union_id="L1"),
            officer_county=key(Role.OFFICER, union_id="C2"),
            finance=key(Role.FINANCE, union_id="R"),
            finance_checker=key(Role.FINANCE, union_id="R"),
            finance_league=key(Role.FINANCE, union_id="L1"),
            finance_other=key(Role.FINANCE, union_id="L2"),
        )
        s.commit()
    return cast
