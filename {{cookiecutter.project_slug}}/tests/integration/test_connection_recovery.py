"""The service survives its connections being killed: it reconnects, nothing is lost."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
import redis

from _fixtures.service import ServiceHarness, TenantWithKey

pytestmark = pytest.mark.anyio


async def test_requests_succeed_after_postgres_terminates_the_services_connections(
    service: ServiceHarness,
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    admin_connection: psycopg.Connection[Any],
) -> None:
    created = await client.post(
        "/documents", json={"title": "Lantern", "body": "light"}, headers=tenant.headers
    )
    assert created.status_code == 201

    terminated = admin_connection.execute(
        # The timeout makes pg_terminate_backend wait until each backend has exited,
        # so the next request cannot race a connection that is still dying.
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
        "WHERE application_name = %s",
        (service.settings.db_application_name,),
    ).fetchone()
    assert terminated is not None
    assert terminated[0] >= 1, "the service held no connection to terminate"

    response = await client.get(f"/documents/{created.json()['id']}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["title"] == "Lantern"


async def test_the_cache_works_again_after_redis_kills_the_services_connection(
    service: ServiceHarness, client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    await client.post(
        "/documents", json={"title": "Quartz", "body": "crystal"}, headers=tenant.headers
    )
    first = await client.get("/search", params={"q": "quartz"}, headers=tenant.headers)
    assert first.headers["X-Cache"] == "miss"

    with redis.Redis.from_url(service.settings.redis_url) as admin:
        clients = [
            c for c in admin.client_list() if c["name"] == service.settings.redis_client_name
        ]
        assert clients, "the service held no Redis connection"
        for connection in clients:
            admin.client_kill_filter(_id=connection["id"])

        # A hit proves the service read Redis after the kill, through a new connection;
        # a bypass would mean it gave up on the cache instead of reconnecting.
        again = await client.get("/search", params={"q": "quartz"}, headers=tenant.headers)
        assert again.headers["X-Cache"] == "hit"
        assert again.json() == first.json()
        reconnected = {
            c["id"] for c in admin.client_list() if c["name"] == service.settings.redis_client_name
        }
        assert reconnected, "the service did not reconnect"
        assert reconnected.isdisjoint({c["id"] for c in clients})
