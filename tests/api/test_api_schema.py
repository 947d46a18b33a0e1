"""The schema: the Alembic migrations make it, and the models agree with them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from store.db import alembic_config
from store.models import Base


def test_the_migrations_create_every_table_of_the_models(db: Engine) -> None:
    tables = set(inspect(db).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_the_database_is_at_the_newest_migration(db: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    with db.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head


def test_the_models_agree_with_the_migrations(db: Engine) -> None:
    """What `alembic revision --autogenerate` would write is nothing at all."""
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
