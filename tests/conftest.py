"""Fixtures shared by the test modules."""

import pytest

from rules.engine import Engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The engine under the shipped default plan. It stores nothing between claims:
    each ``adjudicate`` call of tests/builders.py starts a fresh ledger."""
    return Engine()
