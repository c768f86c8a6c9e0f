"""The fault proxy in front of real Redis, driven by redis-py.

What a chaos scenario relies on: a toxic shows up in the client as the error production would
raise (a timeout, a reset, a refused connection), and removing it brings the service back.
Durations are only bounded below; the client gets short timeouts and no retries, so a fault
shows at once and cannot hang the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from testkit.chaos import Proxy, proxied_url
from testkit.chaos.plugin import FaultProxyFactory
from testkit.fixtures import Endpoint, RedisNamespace
from testkit.infra.addresses import host_port

pytest.importorskip("redis")

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def _upstream(endpoint: Endpoint) -> tuple[str, int]:
    address = host_port(endpoint.url)
    if address is None:
        pytest.skip(f"{endpoint.service} is on a Unix socket: nothing to proxy")
    return address


@pytest.fixture
def redis_proxy(fault_proxy: FaultProxyFactory, redis_server: Endpoint) -> Proxy:
    return fault_proxy("redis", _upstream(redis_server))


@pytest.fixture
def redis_client(redis_proxy: Proxy, redis_server: Endpoint) -> Iterator[redis.Redis]:
    """A client through the proxy that fails fast: no retries, 1 s socket timeouts."""
    client = redis.Redis.from_url(
        proxied_url(redis_server.url, redis_proxy),
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        client.close()


def test_redis_answers_through_a_clean_proxy(redis_client: redis.Redis) -> None:
    assert redis_client.ping() is True


def test_redis_latency_adds_at_least_the_toxics_delay(
    redis_proxy: Proxy, redis_client: redis.Redis
) -> None:
    redis_client.ping()  # connected before the toxic: only the command's round trip is timed
    with redis_proxy.toxic("latency", latency=250):
        started = time.monotonic()
        assert redis_client.ping() is True
        assert time.monotonic() - started >= 0.25


def test_redis_timeout_zero_hangs_until_the_client_times_out_then_recovers(
    redis_proxy: Proxy, redis_client: redis.Redis
) -> None:
    with redis_proxy.toxic("timeout", timeout=0), pytest.raises(redis.TimeoutError):
        redis_client.ping()

    # The hung connection was dropped by the client; the pool opens a fresh one.
    assert redis_client.ping() is True


def test_redis_reset_peer_is_a_connection_reset_for_the_client(
    redis_proxy: Proxy, redis_client: redis.Redis
) -> None:
    redis_client.ping()
    with redis_proxy.toxic("reset_peer"), pytest.raises(redis.ConnectionError) as raised:
        redis_client.ping()

    assert "reset by peer" in str(raised.value).lower()
    assert redis_client.ping() is True


def test_redis_limit_data_cuts_a_large_reply(
    redis_proxy: Proxy, redis_client: redis.Redis, redis_namespace: RedisNamespace
) -> None:
    key = redis_namespace.key("big")
    redis_client.set(key, b"v" * 100_000)
    with redis_proxy.toxic("limit_data", bytes=1000), pytest.raises(redis.ConnectionError):
        redis_client.get(key)

    assert redis_client.get(key) == b"v" * 100_000


def test_redis_slicer_and_bandwidth_still_deliver_every_byte(
    redis_proxy: Proxy, redis_client: redis.Redis, redis_namespace: RedisNamespace
) -> None:
    key = redis_namespace.key("value")
    value = bytes(range(256)) * 200  # 51 200 bytes
    redis_client.set(key, value)

    with redis_proxy.toxic("slicer", average_size=100, size_variation=50, delay=50):
        assert redis_client.get(key) == value
    with redis_proxy.toxic("bandwidth", rate=100):  # 51 KB at 100 KB/s: at least 0.5 s
        started = time.monotonic()
        assert redis_client.get(key) == value
        assert time.monotonic() - started >= 0.45


def test_redis_toxicity_zero_never_applies(redis_proxy: Proxy, redis_server: Endpoint) -> None:
    with redis_proxy.toxic("reset_peer", toxicity=0.0):
        for _ in range(10):  # ten fresh connections, none reset
            client = redis.Redis.from_url(
                proxied_url(redis_server.url, redis_proxy), retry=Retry(NoBackoff(), 0)
            )
            try:
                assert client.ping() is True
            finally:
                client.close()


def test_redis_down_refuses_connections_and_up_restores_them(
    redis_proxy: Proxy, redis_client: redis.Redis
) -> None:
    redis_client.ping()
    with redis_proxy.down():
        with pytest.raises(redis.ConnectionError):
            redis_client.ping()  # the open connection was cut
        with pytest.raises(redis.ConnectionError, match="refused"):
            redis_client.ping()  # and a new one is refused

    assert redis_client.ping() is True
