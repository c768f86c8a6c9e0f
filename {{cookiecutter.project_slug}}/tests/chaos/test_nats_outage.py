"""nats_outage: NATS crashes (SIGKILL) and comes back with its JetStream file store.

Proves: writes keep succeeding while NATS is gone and their events wait in the outbox
(/readyz degraded, not unavailable); after the restart the relay delivers every event
without a service restart, and a deduplicating consumer (SeenEvents) handles each written
document's event exactly once: none lost, none twice in the stream.
"""

from __future__ import annotations

from dataclasses import replace

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    client_for,
    create_tenant,
    deduplicated,
    delivered_events,
    document_ids_of,
    is_ready,
    readiness,
    stored_documents,
    unpublished_count,
    wait_until,
    write_documents,
)
from testkit.chaos.servers import KillableServer


def test_nats_outage(
    ephemeral_nats: KillableServer,
    chaos_dependencies: Dependencies,
    chaos_service: ServiceStarter,
) -> None:
    dependencies = replace(chaos_dependencies, nats_url=ephemeral_nats.url)
    database_url = dependencies.database_url
    with chaos_service(dependencies) as server, client_for(server) as client:
        tenant = create_tenant(client)
        wait_until(lambda: is_ready(client), what="the service connected to NATS")
        before = write_documents(client, tenant, [f"before {n}" for n in range(5)])
        wait_until(lambda: unpublished_count(database_url) == 0, what="events relayed")

        ephemeral_nats.kill()

        # Degraded: writes succeed, their events wait in the outbox.
        during = write_documents(client, tenant, [f"during {n}" for n in range(10)])
        assert unpublished_count(database_url) >= len(during)
        status, body = readiness(client)
        assert (status, body["status"], body["checks"]["nats"]) == (200, "degraded", "degraded")

        ephemeral_nats.start()

        # Recovery: the same process reconnects and drains the outbox.
        wait_until(lambda: unpublished_count(database_url) == 0, what="outbox drained")
        wait_until(lambda: is_ready(client), what="/readyz back to ok after NATS restarted")
        after = write_documents(client, tenant, ["after"])
        wait_until(lambda: unpublished_count(database_url) == 0, what="last event relayed")

    # No event lost, none delivered twice: the stream as a new consumer reads it.
    written = [*before, *during, *after]
    assert set(stored_documents(database_url)) == set(written)
    events = delivered_events(dependencies.nats_url, dependencies.subject_prefix)
    handled, repeats = deduplicated(events)
    assert repeats == 0, f"{repeats} events were in the stream twice"
    assert sorted(document_ids_of(handled)) == sorted(written)
