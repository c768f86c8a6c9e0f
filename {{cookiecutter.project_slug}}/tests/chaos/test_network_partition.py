"""network_partition: the network between the service and Postgres blackholes, then heals.

Unlike an outage nothing is refused: the fault proxy's timeout toxic (timeout=0) swallows
every byte both ways, so open connections hang and new ones never finish their handshake.

Proves: requests end in a clean 503 within the deadline instead of hanging on a connection
that will never answer, /readyz says unavailable while /healthz stays up; once the network
heals the same process serves again, every acknowledged write is stored and the refused
ones are created exactly once on retry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import httpx

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    client_for,
    concurrently,
    create_tenant,
    is_ready,
    listed_ids,
    readiness,
    stored_documents,
    wait_until,
    write_document,
    write_documents,
)
from testkit.chaos import FaultProxyFactory, proxied_url
from testkit.infra import Endpoint
from testkit.infra.addresses import host_port


def test_network_partition(
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
    settings = {"DB_CONNECT_TIMEOUT_SECONDS": "1", "REQUEST_TIMEOUT_SECONDS": "3"}
    with chaos_service(dependencies, **settings) as server, client_for(server) as client:
        tenant = create_tenant(client)
        before = write_documents(client, tenant, [f"before {n}" for n in range(3)])

        keys = [f"partitioned-{n}" for n in range(3)]
        with (
            proxy.toxic("timeout", stream="upstream", timeout=0),
            proxy.toxic("timeout", stream="downstream", timeout=0),
        ):
            calls: list[Callable[[], httpx.Response]] = [
                partial(write_document, client, tenant, key, key=key) for key in keys
            ]
            calls.append(lambda: client.get("/documents", headers=tenant.headers))
            responses = concurrently(calls, what="a request across the partition")
            assert [response.status_code for response in responses] == [503] * len(calls)
            status, body = readiness(client)
            assert (status, body["checks"]["postgres"]) == (503, "down")
            assert client.get("/healthz").status_code == 200

        # Healed: the same process recovers; refused writes retried once each.
        wait_until(lambda: is_ready(client), what="/readyz back to ok after the partition")
        retried = []
        for key in keys:
            response = write_document(client, tenant, key, key=key)
            assert response.status_code == 201, response.text
            retried.append(response.json()["id"])

        written = {*before, *retried}
        assert set(listed_ids(client, tenant)) == written
        assert set(stored_documents(database_url)) == written
