"""Example integration tests against real PostgreSQL: isolation, transactions, connection loss.

postgres_schema gives each test a fresh schema (its URL sets search_path), inside a database
created for this xdist worker, so tests and workers never see each other's tables.
"""

from __future__ import annotations

import psycopg
import pytest

from testkit.fixtures import PostgresSchema


def _create_and_fill_notes(url: str) -> int:
    with psycopg.connect(url) as connection:
        existing = connection.execute("SELECT to_regclass('notes')").fetchone()
        assert existing == (None,), "another test's table leaked into this schema"
        connection.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        connection.execute("INSERT INTO notes (body) VALUES ('first'), ('second')")
        row = connection.execute("SELECT count(*) FROM notes").fetchone()
    assert row is not None
    return int(row[0])


# Two tests creating the same table: both pass, in any order and on any worker, only because
# each has its own schema.
def test_a_table_created_here_is_invisible_to_other_tests(postgres_schema: PostgresSchema) -> None:
    assert _create_and_fill_notes(postgres_schema.url) == 2


def test_the_same_table_name_is_free_again_in_the_next_test(
    postgres_schema: PostgresSchema,
) -> None:
    assert _create_and_fill_notes(postgres_schema.url) == 2


def test_connections_start_in_the_tests_schema_inside_the_workers_database(
    postgres_schema: PostgresSchema,
) -> None:
    with psycopg.connect(postgres_schema.url) as connection:
        row = connection.execute("SELECT current_schema(), current_database()").fetchone()

    assert row is not None
    assert row[0] == postgres_schema.name
    assert row[1].startswith("tk_")


def _insert_then_break_a_constraint(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    with connection.transaction():
        connection.execute("INSERT INTO accounts VALUES ('a', 10)")
        connection.execute("ALTER TABLE accounts ADD CHECK (balance > 100)")


def test_a_rolled_back_transaction_leaves_nothing_and_a_committed_one_is_seen_by_others(
    postgres_schema: PostgresSchema,
) -> None:
    with psycopg.connect(postgres_schema.url, autocommit=True) as connection:
        connection.execute("CREATE TABLE accounts (name text PRIMARY KEY, balance int NOT NULL)")
        with pytest.raises(psycopg.errors.CheckViolation):
            _insert_then_break_a_constraint(connection)
        with connection.transaction():
            connection.execute("INSERT INTO accounts VALUES ('b', 500)")

    with psycopg.connect(postgres_schema.url) as other:
        rows = other.execute("SELECT name, balance FROM accounts ORDER BY name").fetchall()

    assert rows == [("b", 500)]


def test_a_killed_connection_fails_loudly_and_a_new_one_works(
    postgres_schema: PostgresSchema,
) -> None:
    victim = psycopg.connect(postgres_schema.url, autocommit=True)
    pid = victim.info.backend_pid
    with psycopg.connect(postgres_schema.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    with pytest.raises(psycopg.OperationalError):
        victim.execute("SELECT 1")
    assert victim.closed
    with psycopg.connect(postgres_schema.url) as fresh:
        assert fresh.execute("SELECT 1").fetchone() == (1,)
