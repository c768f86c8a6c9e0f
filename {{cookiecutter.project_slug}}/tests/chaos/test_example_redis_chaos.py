"""Example chaos tests for Redis: a killable server of the test's own, and the fault proxy in
front of the shared one. A Redis client under test needs a socket timeout, or a dead link
would hang it.
"""

from __future__ import annotations

import pytest
import redis

from testkit.chaos import FaultProxyFactory, proxied_url
from testkit.chaos.servers import KillableServer
from testkit.fixtures import RedisNamespace
from testkit.infra.addresses import host_port


def test_redis_reconnects_and_keeps_acknowledged_writes(ephemeral_redis: KillableServer) -> None:
    client = redis.Redis.from_url(ephemeral_redis.url, socket_timeout=2)
    try:
        client.rpush("queue", *range(10))

        ephemeral_redis.kill()
        with pytest.raises(redis.ConnectionError):
            client.ping()

        ephemeral_redis.start()
        # The same client object reconnects on its next command (append-only file replayed).
        assert [int(item) for item in client.lrange("queue", 0, -1)] == list(range(10))
    finally:
        client.close()


def test_redis_behind_a_dead_link_fails_fast_and_recovers(
    fault_proxy: FaultProxyFactory, redis_namespace: RedisNamespace
) -> None:
    address = host_port(redis_namespace.url)
    if address is None:
        pytest.skip("Redis is on a Unix socket: nothing to proxy")
    proxy = fault_proxy("redis", address)
    client = redis.Redis.from_url(proxied_url(redis_namespace.url, proxy), socket_timeout=1)
    key = redis_namespace.key("visits")
    try:
        client.set(key, 1)
        with proxy.down(), pytest.raises(redis.ConnectionError):
            client.incr(key)
        # Healed: the next command reconnects, and the failed one changed nothing.
        assert client.incr(key) == 2
    finally:
        client.close()
