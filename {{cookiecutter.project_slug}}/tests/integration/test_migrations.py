"""Alembic migrations: up, down and up again on a fresh schema, and in step with the models."""

from __future__ import annotations

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from _fixtures.service import alembic_config
from testkit.fixtures import PostgresSchema

from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.settings import Settings

SERVICE_TABLES = {
    "tenants",
    "api_keys",
    "documents",
    "outbox_events",
    "document_chunks",
    "ingest_sagas",
    "document_projection",
    "projection_applied_events",
    "dead_letters",
}


def _tables(schema: PostgresSchema) -> set[str]:
    with psycopg.connect(schema.url) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema.name,),
        ).fetchall()
    return {name for (name,) in rows} - {"alembic_version"}


def _current_revision(schema: PostgresSchema) -> str | None:
    with psycopg.connect(schema.url) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def test_upgrade_downgrade_and_upgrade_again(postgres_schema: PostgresSchema) -> None:
    config = alembic_config(postgres_schema.url)
    head = ScriptDirectory.from_config(config).get_current_head()

    command.upgrade(config, "head")
    assert _tables(postgres_schema) == SERVICE_TABLES
    assert _current_revision(postgres_schema) == head

    command.downgrade(config, "base")
    assert _tables(postgres_schema) == set()
    assert _current_revision(postgres_schema) is None

    command.upgrade(config, "head")
    assert _tables(postgres_schema) == SERVICE_TABLES
    assert _current_revision(postgres_schema) == head


def test_every_revision_downgrades_to_its_predecessor(postgres_schema: PostgresSchema) -> None:
    config = alembic_config(postgres_schema.url)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions("base", "head"))
    command.upgrade(config, "head")
    for revision in revisions:  # newest first
        command.downgrade(config, "-1")
        assert _current_revision(postgres_schema) == revision.down_revision


def test_migrated_schema_matches_the_models(postgres_schema: PostgresSchema) -> None:
    command.upgrade(alembic_config(postgres_schema.url), "head")
    engine = create_engine(Settings(database_url=postgres_schema.url).database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "models.py and migrations/ disagree; add a migration"


def test_search_vector_is_generated_by_the_migrated_schema(postgres_schema: PostgresSchema) -> None:
    command.upgrade(alembic_config(postgres_schema.url), "head")
    with psycopg.connect(postgres_schema.url) as connection:
        connection.execute(
            "INSERT INTO tenants (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 't')"
        )
        connection.execute(
            "INSERT INTO documents (id, tenant_id, title, body) VALUES "
            "(gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'Rivers', 'running water')"
        )
        row = connection.execute("SELECT search_vector::text FROM documents").fetchone()
    assert row is not None
    # Stemmed lexemes with their weight labels: title A, body B.
    assert row[0] == "'river':1A 'run':2B 'water':3B"
