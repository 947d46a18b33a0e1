"""Fixtures of the load tests: fresh databases on SQLite and PostgreSQL, real servers.

Each test here runs on both backends (``backend``). A PostgreSQL that cannot be reached
makes the PostgreSQL variants FAIL with the URL tried; they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.databases import PostgresUnreachable, fresh_database


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A migrated, empty database of the backend (see ``live.fresh_database``); fails when unreachable."""
    try:
        with fresh_database(backend, workdir) as url:
            yield url
    except PostgresUnreachable as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test."""
    with database(backend, tmp_path) as url:
        yield url
