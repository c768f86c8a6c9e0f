"""postgres_outage: the database crashes (SIGKILL) and comes back; the service never restarts.

Proves: while Postgres is gone every data request is a clean 503 with Retry-After (no 500,
no hang) and /readyz says unavailable while /healthz stays up; once it is back the same
service process serves again (pre-ping replaces the dead pooled connections); every write
acknowledged before the crash is there, and writes refused during it can be retried once.
"""

from __future__ import annotations

from dataclasses import replace

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    client_for,
    create_tenant,
    is_ready,
    listed_ids,
    readiness,
    stored_documents,
    wait_until,
    write_document,
    write_documents,
)
from _fixtures.service import migrated_scratch_database
from testkit.chaos.servers import KillableServer


def test_postgres_outage(
    ephemeral_postgres: KillableServer,
    chaos_dependencies: Dependencies,
    chaos_service: ServiceStarter,
) -> None:
    with migrated_scratch_database(ephemeral_postgres.url) as database_url:
        dependencies = replace(chaos_dependencies, database_url=database_url)
        with (
            chaos_service(dependencies, DB_CONNECT_TIMEOUT_SECONDS="1") as server,
            client_for(server) as client,
        ):
            tenant = create_tenant(client)
            before = write_documents(client, tenant, [f"before {n}" for n in range(5)])

            ephemeral_postgres.kill()

            # Degraded: clean 503s, the process itself alive.
            refused_keys = [f"outage-{n}" for n in range(3)]
            for key in refused_keys:
                response = write_document(client, tenant, key, key=key)
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"] == "1"
            assert client.get("/documents", headers=tenant.headers).status_code == 503
            status, body = readiness(client)
            assert (status, body["checks"]["postgres"]) == (503, "down")
            assert client.get("/healthz").status_code == 200

            ephemeral_postgres.start()

            # Recovery without a restart: same process, ready again, writes accepted.
            wait_until(lambda: is_ready(client), what="/readyz back to ok after the restart")
            retried = []
            for key in refused_keys:
                response = write_document(client, tenant, key, key=key)
                assert response.status_code == 201, response.text
                retried.append(response.json()["id"])
            after = write_documents(client, tenant, ["after"])

            # No data lost, nothing doubled: exactly what was acknowledged is stored.
            acknowledged = {*before, *retried, *after}
            assert set(listed_ids(client, tenant)) == acknowledged
            assert set(stored_documents(database_url)) == acknowledged
