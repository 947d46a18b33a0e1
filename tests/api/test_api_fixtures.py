"""The suite's own promise: a PostgreSQL test that cannot reach its server fails, never skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_postgres_tests_error_rather_than_skip_when_the_server_is_unreachable() -> None:
    env = {**os.environ, "CLAIMS_TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "postgres",
         "tests/api/test_api_schema.py::test_the_database_is_at_the_newest_migration"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 error" in out and "skipped" not in out, out
    assert "PostgreSQL is not reachable at postgresql+psycopg://postgres@127.0.0.1:1/test" in out, out
