"""Per-worker and per-test isolation: unique names, and the create/drop work behind the fixtures.

Names come from `secrets`, never `random`: pytest-randomly reseeds `random` identically in every
xdist worker, so random-based names would collide between workers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def worker_id() -> str:
    """xdist's worker name (gw0, gw1, ...) or "main" without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def unique_name(prefix: str, separator: str = "_") -> str:
    """prefix, worker and 12 random hex digits, e.g. tk_gw1_3f9a0c2b7d41."""
    return separator.join((prefix, worker_id(), secrets.token_hex(6)))


def with_database(url: str, database: str) -> str:
    """The libpq URL pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_search_path(url: str, schema: str) -> str:
    """The libpq URL whose connections start with search_path set to schema."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def create_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as connection:
        # FORCE: a test that leaked a connection must not keep the database alive.
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new database named `prefix_<unique>`, dropped on exit."""
    name = unique_name(prefix)
    create_database(server_url, name)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


def create_schema(database_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))


def drop_schema(database_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url, autocommit=True) as connection:
        # A connection the test left open can hold locks; fail the drop rather than hang.
        connection.execute("SET lock_timeout = '10s'")
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def delete_redis_keys(url: str, prefix: str) -> int:
    """Delete every key under prefix; returns how many were deleted."""
    import redis

    client = redis.Redis.from_url(url)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=prefix + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.unlink(*batch))
                batch.clear()
        if batch:
            deleted += int(client.unlink(*batch))
    finally:
        client.close()
    return deleted
