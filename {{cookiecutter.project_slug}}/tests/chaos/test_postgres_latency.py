"""postgres_latency: a slow network to Postgres, then a stalled Postgres.

Proves: with latency on every packet (the fault proxy's latency toxic) requests still
succeed; when queries stall (another session holds a lock they need) every request ends in
a clean 503 within APP_DB_STATEMENT_TIMEOUT_MS instead of hanging, however many arrive at
once; afterwards the pool is not exhausted (more requests than it holds all succeed), and
every acknowledged write is there while refused ones are created once on retry.

The only timing check is the request deadline in within_deadline: it detects hangs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import httpx
import psycopg

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    client_for,
    concurrently,
    create_tenant,
    is_ready,
    listed_ids,
    stored_documents,
    wait_until,
    write_document,
    write_documents,
)
from testkit.chaos import FaultProxyFactory, proxied_url
from testkit.infra import Endpoint
from testkit.infra.addresses import host_port

POOL_SIZE = 2
STALLED_REQUESTS = 8  # more than the pool holds: the overflow must time out cleanly too


def test_postgres_latency(
    postgres_server: Endpoint,
    fault_proxy: FaultProxyFactory,
    chaos_dependencies: Dependencies,
    chaos_service: ServiceStarter,
) -> None:
    address = host_port(postgres_server.url)
    assert address is not None
    proxy = fault_proxy("postgres", address)
    database_url = chaos_dependencies.database_url
    dependencies = replace(chaos_dependencies, database_url=proxied_url(database_url, proxy))
    settings = {
        "DB_STATEMENT_TIMEOUT_MS": "500",
        "DB_POOL_SIZE": str(POOL_SIZE),
        "DB_POOL_TIMEOUT_SECONDS": "2",
    }
    with chaos_service(dependencies, **settings) as server, client_for(server) as client:
        tenant = create_tenant(client)
        before = write_documents(client, tenant, ["before"])

        # Slow network: every packet from Postgres 50-150 ms late; requests still succeed.
        with proxy.toxic("latency", latency=100, jitter=50):
            slow = write_documents(client, tenant, ["slow 1", "slow 2"])
            assert set(listed_ids(client, tenant)) == {*before, *slow}

        # Stalled database: a lock every query of the documents table waits for.
        keys = [f"stalled-{n}" for n in range(STALLED_REQUESTS // 2)]
        with psycopg.connect(database_url) as locker:
            locker.execute("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE")
            calls: list[Callable[[], httpx.Response]] = [
                partial(write_document, client, tenant, key, key=key) for key in keys
            ]
            calls += [lambda: client.get("/documents", headers=tenant.headers)] * (
                STALLED_REQUESTS - len(keys)
            )
            responses = concurrently(calls, what="a request to a stalled database")
            locker.rollback()
        assert [response.status_code for response in responses] == [503] * STALLED_REQUESTS
        assert all(response.headers["Retry-After"] == "1" for response in responses)

        # Recovery: no connection leaked, the pool serves more requests than it holds.
        wait_until(lambda: is_ready(client), what="/readyz back to ok after the stall")
        burst = concurrently(
            [lambda: client.get("/documents", headers=tenant.headers)] * (POOL_SIZE * 4)
        )
        assert [response.status_code for response in burst] == [200] * (POOL_SIZE * 4)
        retried = []
        for key in keys:
            response = write_document(client, tenant, key, key=key)
            assert response.status_code == 201, response.text
            retried.append(response.json()["id"])

        # No data lost: exactly the acknowledged writes are stored.
        written = {*before, *slow, *retried}
        assert set(listed_ids(client, tenant)) == written
        assert set(stored_documents(database_url)) == written
