"""Example integration tests against real Redis: key isolation, bytes vs str, reconnects.

redis_namespace gives each test its own key prefix (deleted afterwards), so parallel tests and
workers can share one server.
"""

from __future__ import annotations

import redis

from testkit.fixtures import RedisNamespace


def test_the_namespace_starts_empty_and_belongs_to_this_test(
    redis_namespace: RedisNamespace,
) -> None:
    client = redis.Redis.from_url(redis_namespace.url)
    try:
        assert list(client.scan_iter(match=redis_namespace.prefix + "*")) == []
        client.set(redis_namespace.key("counter"), 1)
        assert client.incr(redis_namespace.key("counter")) == 2
    finally:
        client.close()


def test_without_decode_responses_values_come_back_as_bytes(
    redis_namespace: RedisNamespace,
) -> None:
    client = redis.Redis.from_url(redis_namespace.url, decode_responses=False)
    try:
        client.set(redis_namespace.key("greeting"), "grüße")
        client.hset(redis_namespace.key("user"), mapping={"name": "Zoë", "visits": 3})

        assert client.get(redis_namespace.key("greeting")) == "grüße".encode()
        assert client.hgetall(redis_namespace.key("user")) == {
            b"name": "Zoë".encode(),
            b"visits": b"3",
        }
    finally:
        client.close()


def test_with_decode_responses_values_come_back_as_str(redis_namespace: RedisNamespace) -> None:
    client = redis.Redis.from_url(redis_namespace.url, decode_responses=True)
    try:
        client.set(redis_namespace.key("greeting"), "grüße")
        client.hset(redis_namespace.key("user"), mapping={"name": "Zoë", "visits": 3})

        assert client.get(redis_namespace.key("greeting")) == "grüße"
        # Numbers are stored as text: they come back as str, not int.
        assert client.hgetall(redis_namespace.key("user")) == {"name": "Zoë", "visits": "3"}
    finally:
        client.close()


def test_a_connection_killed_by_the_server_is_replaced_on_the_next_command(
    redis_namespace: RedisNamespace,
) -> None:
    client = redis.Redis.from_url(redis_namespace.url, decode_responses=True)
    admin = redis.Redis.from_url(redis_namespace.url)
    try:
        client.set(redis_namespace.key("before"), "kept")
        killed = admin.client_kill_filter(_id=str(client.client_id()))

        assert killed == 1
        # The pooled connection is dead; redis-py notices, reconnects and retries.
        assert client.get(redis_namespace.key("before")) == "kept"
    finally:
        client.close()
        admin.close()
