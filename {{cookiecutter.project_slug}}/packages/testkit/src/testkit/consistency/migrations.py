"""Migrations apply to an empty database and each one's downgrade undoes exactly its upgrade.

`walk_order` puts the revisions (any number of heads and branches) parents first; the schema
snapshot is every object a migration can leave behind (tables, columns, indexes, constraints,
sequences, types, functions, extensions), so comparing snapshots before an upgrade and after
its downgrade catches a downgrade that is missing, empty or partial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg

# The bookkeeping table alembic keeps (empty) after `downgrade base`.
VERSION_TABLE = "alembic_version"
_SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
_SNAPSHOT_QUERIES = (
    "SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' '"
    " || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')"
    f" FROM information_schema.columns WHERE table_schema NOT IN {_SYSTEM_SCHEMAS}"
    f" AND table_name <> '{VERSION_TABLE}'",
    "SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    f" WHERE n.nspname NOT IN {_SYSTEM_SCHEMAS} AND c.relname NOT LIKE '{VERSION_TABLE}%'",
    "SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)"
    f" FROM pg_constraint WHERE connamespace::regnamespace::text NOT IN {_SYSTEM_SCHEMAS}"
    f" AND conrelid::regclass::text NOT LIKE '{VERSION_TABLE}%'",
    "SELECT 'type ' || n.nspname || '.' || t.typname FROM pg_type t"
    " JOIN pg_namespace n ON n.oid = t.typnamespace"
    f" WHERE n.nspname NOT IN {_SYSTEM_SCHEMAS} AND t.typtype IN ('e', 'd', 'c')"
    " AND t.typrelid = 0",
    "SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p"
    f" JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN {_SYSTEM_SCHEMAS}",
    "SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'",
)


class MigrationGraphError(ValueError):
    """The revisions do not form a graph rooted at base (one line naming the revision)."""


def walk_order(parents: Mapping[str, Sequence[str]]) -> list[str]:
    """Revision ids, each after all its parents (ties by id, so the order is stable)."""
    order: list[str] = []
    placed: set[str] = set()
    for revision, revision_parents in parents.items():
        for parent in revision_parents:
            if parent not in parents:
                raise MigrationGraphError(f"revision {revision} follows unknown {parent}")
    while len(order) < len(parents):
        ready = sorted(
            revision
            for revision, revision_parents in parents.items()
            if revision not in placed and all(parent in placed for parent in revision_parents)
        )
        if not ready:
            stuck = sorted(set(parents) - placed)
            raise MigrationGraphError(f"revisions {', '.join(stuck)} form a cycle")
        order += ready
        placed.update(ready)
    return order


def schema_snapshot(url: str) -> frozenset[str]:
    """Every schema object in the database at ``url`` outside PostgreSQL's own schemas."""
    with psycopg.connect(url, autocommit=True) as connection:
        return frozenset(
            row[0] for query in _SNAPSHOT_QUERIES for row in connection.execute(query).fetchall()
        )


def snapshot_difference(before: frozenset[str], after: frozenset[str]) -> list[str]:
    """What a downgrade left behind (+) or removed that was there before the upgrade (-)."""
    return [f"+ {item}" for item in sorted(after - before)] + [
        f"- {item}" for item in sorted(before - after)
    ]
