"""What a killed test run leaves behind on a shared server, and removing it (`make reset-test-db`).

A run that ends normally drops its per-worker databases and deletes its Redis keys. A run that
is killed (SIGKILL, a cancelled CI job) cannot, so they pile up on a long-lived server such as
the one TEST_POSTGRES_URL names. Only names with the exact shape testkit.isolation.unique_name
gives ("tk", worker, 12 hex digits) are touched: a user's own database never matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from testkit import isolation
from testkit.infra.protocol import Endpoint

DATABASE_NAME = re.compile(r"^tk_(?:main|gw\d+)_[0-9a-f]{12}$")
REDIS_KEY_PREFIX = re.compile(rb"^(tk:(?:main|gw\d+):[0-9a-f]{12}:)")


def is_test_database(name: str) -> bool:
    return DATABASE_NAME.match(name) is not None


def owning_test_prefix(key: bytes) -> bytes | None:
    """The per-test prefix a Redis key lives under, or None for keys testkit did not write."""
    match = REDIS_KEY_PREFIX.match(key)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Removed:
    service: str
    what: str  # "databases" or "keys"
    count: int

    def describe(self) -> str:
        return f"removed {self.count} leftover test {self.what}"


def remove_leftovers(endpoint: Endpoint) -> Removed | None:
    """Drop leftover test databases (postgres) or keys (redis); None for services without any."""
    if endpoint.service == "postgres":
        names = _database_names(endpoint.url)
        for name in names:
            isolation.drop_database(endpoint.url, name)
        return Removed("postgres", "databases", len(names))
    if endpoint.service == "redis":
        return Removed("redis", "keys", _delete_test_keys(endpoint.url))
    return None  # NATS: subjects hold nothing once their subscribers are gone


def _database_names(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as connection:
        rows = connection.execute("SELECT datname FROM pg_database").fetchall()
    return sorted(name for (name,) in rows if is_test_database(name))


def _delete_test_keys(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        prefixes = {
            prefix
            for key in client.scan_iter(match="tk:*", count=500)
            if (prefix := owning_test_prefix(key)) is not None
        }
    finally:
        client.close()
    return sum(isolation.delete_redis_keys(url, prefix.decode()) for prefix in sorted(prefixes))
