"""`testkit infra --reset` (make reset-test-db) removes what killed runs left, and nothing else.

Runs against servers of its own (the local-binary source, no URL): dropping every tk_* database
on the shared server would pull the floor from under the other xdist workers of this very run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit import isolation
from testkit.infra import InfraManager, default_sources
from testkit.infra.leftovers import is_test_database, owning_test_prefix, remove_leftovers
from testkit.infra.protocol import Endpoint

pytest.importorskip("psycopg")
pytest.importorskip("redis")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tk_main_3f9a0c2b7d41", True),
        ("tk_gw12_3f9a0c2b7d41", True),
        ("tk_gw1_3f9a0c2b7d4", False),  # 11 hex digits
        ("tk_prod_3f9a0c2b7d41", False),
        ("app_tk_main_3f9a0c2b7d41", False),
        ("tk_main_3F9A0C2B7D41", False),
        ("test", False),
    ],
)
def test_only_names_testkit_made_count_as_leftovers(name: str, expected: bool) -> None:
    assert is_test_database(name) is expected


def test_redis_keys_are_grouped_by_the_prefix_of_the_test_that_wrote_them() -> None:
    assert owning_test_prefix(b"tk:gw0:3f9a0c2b7d41:search:1") == b"tk:gw0:3f9a0c2b7d41:"
    assert owning_test_prefix(b"tk:users:1") is None


@pytest.fixture(scope="module")
def own_servers() -> Iterator[dict[str, Endpoint]]:
    manager = InfraManager(default_sources({}), ["postgres", "redis"])
    try:
        endpoints = {service: manager.endpoint(service) for service in ("postgres", "redis")}
    except Exception as error:  # no binaries on this machine
        manager.stop_all()
        pytest.skip(f"no local postgres/redis binaries: {error}")
    yield endpoints
    manager.stop_all()


def test_reset_drops_leftover_databases_and_keeps_the_others(
    own_servers: dict[str, Endpoint],
) -> None:
    server = own_servers["postgres"].url
    leftovers = [isolation.unique_name("tk") for _ in range(2)]
    kept = "tk_keep_me"
    for name in [*leftovers, kept]:
        isolation.create_database(server, name)

    removed = remove_leftovers(own_servers["postgres"])

    import psycopg

    with psycopg.connect(server) as connection:
        names = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
    assert removed is not None
    assert removed.count == 2
    assert not names & set(leftovers)
    assert kept in names


def test_reset_deletes_leftover_test_keys_and_keeps_the_others(
    own_servers: dict[str, Endpoint],
) -> None:
    import redis

    client = redis.Redis.from_url(own_servers["redis"].url)
    prefix = isolation.unique_name("tk", separator=":") + ":"
    client.mset({f"{prefix}a": 1, f"{prefix}b": 2, "tk:users:1": 3, "app:key": 4})

    removed = remove_leftovers(own_servers["redis"])

    assert removed is not None
    assert removed.count == 2
    assert sorted(client.keys("*")) == [b"app:key", b"tk:users:1"]
    client.close()
