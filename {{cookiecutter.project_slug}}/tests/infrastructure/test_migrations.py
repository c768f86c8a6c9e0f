"""Alembic migrations apply to an empty database, and each downgrade undoes its upgrade exactly.

Whatever heads exist: the revisions are walked parents first (branches included), and for each
one the schema after upgrade-then-downgrade must equal the schema before its upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from _fixtures.service import alembic_config
from testkit import isolation
from testkit.consistency.migrations import schema_snapshot, snapshot_difference, walk_order
from testkit.infra import Endpoint

from {{ cookiecutter.package_name }}.settings import Settings


@pytest.fixture(scope="module")
def scratch_database(postgres_server: Endpoint) -> Iterator[str]:
    """One database for the module: creating and dropping one costs more than a test here."""
    with isolation.scratch_database(postgres_server.url, "migrations") as url:
        yield url


@pytest.fixture
def empty_database(scratch_database: str) -> str:
    """The scratch database at base, whatever the previous test left it at."""
    command.downgrade(alembic_config(scratch_database), "base")
    return scratch_database


def _parents(script: ScriptDirectory) -> dict[str, tuple[str, ...]]:
    parents: dict[str, tuple[str, ...]] = {}
    for revision in script.walk_revisions("base", "heads"):
        down = revision.down_revision
        parents[revision.revision] = (down,) if isinstance(down, str) else tuple(down or ())
    return parents


def _current_heads(url: str) -> set[str]:
    engine = create_engine(Settings(database_url=url).database_url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def test_every_head_applies_to_an_empty_database_and_downgrades_to_nothing(
    empty_database: str,
) -> None:
    config = alembic_config(empty_database)
    empty = schema_snapshot(empty_database)
    command.upgrade(config, "heads")
    assert _current_heads(empty_database) == set(ScriptDirectory.from_config(config).get_heads())
    assert schema_snapshot(empty_database) != empty
    command.downgrade(config, "base")
    left = snapshot_difference(empty, schema_snapshot(empty_database))
    assert left == [], "downgrade base left the database changed:\n" + "\n".join(left)


def test_each_downgrade_undoes_exactly_its_upgrade(empty_database: str) -> None:
    config = alembic_config(empty_database)
    parents = _parents(ScriptDirectory.from_config(config))
    at: str | None = None  # the single revision the database is at, None at base
    for revision in walk_order(parents):
        if len(parents[revision]) > 1:
            continue  # a merge point changes no schema of its own; the full cycle covers it
        parent = parents[revision][0] if parents[revision] else None
        if at != parent:
            command.downgrade(config, "base")
            if parent is not None:
                command.upgrade(config, parent)
        before = schema_snapshot(empty_database)
        command.upgrade(config, revision)
        command.downgrade(config, parent or "base")
        difference = snapshot_difference(before, schema_snapshot(empty_database))
        assert difference == [], f"downgrade of {revision} is not its upgrade undone:\n" + (
            "\n".join(difference)
        )
        command.upgrade(config, revision)
        at = revision
