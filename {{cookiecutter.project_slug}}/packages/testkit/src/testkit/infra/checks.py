"""A real round trip per service, used by `testkit infra --check`."""

from __future__ import annotations

import asyncio

from testkit.infra.addresses import host_port
from testkit.infra.protocol import Endpoint
from testkit.infra.readiness import nats_answers


def check_service(endpoint: Endpoint) -> None:
    """Raise if the service does not answer a real request (query, PING, publish/flush)."""
    if endpoint.service == "postgres":
        _check_postgres(endpoint.url)
    elif endpoint.service == "redis":
        _check_redis(endpoint.url)
    else:
        _check_nats(endpoint.url)


def _check_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("SELECT 1").fetchone()
    if row != (1,):
        raise RuntimeError(f"SELECT 1 returned {row!r}")


def _check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        if not client.ping():
            raise RuntimeError("PING was not answered")
    finally:
        client.close()


def _check_nats(url: str) -> None:
    address = host_port(url)
    if address is not None:
        nats_answers(*address)()
    asyncio.run(_nats_round_trip(url))


async def _nats_round_trip(url: str) -> None:
    import nats

    client = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        await client.flush(timeout=5)
    finally:
        await client.close()
