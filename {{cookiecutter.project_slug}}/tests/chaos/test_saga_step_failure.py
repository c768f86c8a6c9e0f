"""saga_step_failure: Postgres is killed (SIGKILL) while URL ingests are mid-saga.

Proves: ingests caught mid-saga answer a clean 503 and their sagas cannot even record the
failure (the database is gone), so they stay running; once Postgres is back the service's
recovery sweep compensates every one of them without a restart. Afterwards every saga is
completed or compensated, exactly the acknowledged (201) ingests are listed, and no pending
document or chunk of an unlisted document remains.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    Tenant,
    client_for,
    create_tenant,
    database_rows,
    is_ready,
    listed_ids,
    wait_until,
    within_deadline,
)
from _fixtures.service import migrated_scratch_database
from _helpers.web_doubles import LoopbackSite, Page
from testkit.chaos.servers import KillableServer

IN_FLIGHT = 4
# Long enough to kill Postgres while every in-flight ingest is still fetching.
FETCH_SECONDS = 1.5


def _ingest(client: httpx.Client, tenant: Tenant, url: str) -> httpx.Response:
    return within_deadline(
        lambda: client.post("/documents/ingest", json={"url": url}, headers=tenant.headers),
        what="an ingest",
    )


def _saga_statuses(database_url: str) -> list[str]:
    return sorted(row[0] for row in database_rows(database_url, "SELECT status FROM ingest_sagas"))


def test_saga_step_failure(
    ephemeral_postgres: KillableServer,
    chaos_dependencies: Dependencies,
    chaos_service: ServiceStarter,
    loopback_site: LoopbackSite,
) -> None:
    loopback_site.pages["/quick"] = Page(b"<title>Quoll</title><p>the quick quoll</p>")
    loopback_site.pages["/slow"] = Page(b"<p>the slow quoll</p>", delay_seconds=FETCH_SECONDS)
    with migrated_scratch_database(ephemeral_postgres.url) as database_url:
        dependencies = replace(chaos_dependencies, database_url=database_url)
        with (
            chaos_service(
                dependencies,
                DB_CONNECT_TIMEOUT_SECONDS="1",
                INGEST_ALLOWED_HOSTS="127.0.0.1",
                SAGA_RECOVERY_INTERVAL_SECONDS="0.2",
                SAGA_STALE_AFTER_SECONDS="1",
            ) as server,
            client_for(server) as client,
        ):
            tenant = create_tenant(client)
            acknowledged = set()
            for _ in range(2):
                response = _ingest(client, tenant, loopback_site.url("/quick"))
                assert response.status_code == 201, response.text
                acknowledged.add(response.json()["id"])

            with ThreadPoolExecutor(IN_FLIGHT) as pool:
                in_flight = [
                    pool.submit(_ingest, client, tenant, loopback_site.url("/slow"))
                    for _ in range(IN_FLIGHT)
                ]
                wait_until(
                    lambda: _saga_statuses(database_url).count("running") == IN_FLIGHT,
                    what=f"{IN_FLIGHT} sagas running (fetching)",
                    timeout=10,
                )
                ephemeral_postgres.kill()
                refused = [future.result() for future in in_flight]

            # Mid-saga with the database gone: a clean 503, nothing acknowledged.
            assert [r.status_code for r in refused] == [503] * IN_FLIGHT, [r.text for r in refused]
            assert all(r.headers["Retry-After"] == "1" for r in refused)

            ephemeral_postgres.start()

            # The same process recovers: its sweep finishes every saga the outage left.
            wait_until(lambda: is_ready(client), what="/readyz back to ok after the restart")
            wait_until(
                lambda: "running" not in _saga_statuses(database_url),
                what="the recovery sweep compensating the sagas the outage left running",
                timeout=10,
            )
            assert _saga_statuses(database_url) == sorted(
                ["completed"] * 2 + ["compensated"] * IN_FLIGHT
            )
            assert set(listed_ids(client, tenant)) == acknowledged
            leftovers = database_rows(
                database_url,
                "SELECT (SELECT count(*) FROM documents WHERE status = 'pending'), "
                "(SELECT count(*) FROM document_chunks c JOIN documents d "
                "ON d.id = c.document_id WHERE d.status <> 'ready')",
            )
            assert leftovers == [(0, 0)], "a half-ingested document or its chunks remain"

            response = _ingest(client, tenant, loopback_site.url("/quick"))
            assert response.status_code == 201, response.text
