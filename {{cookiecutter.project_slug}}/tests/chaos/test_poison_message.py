"""poison_message: good and poison messages mixed on the events stream, under NATS faults.

The service (a real uvicorn process) reaches its own nats-server through the fault proxy.
Documents are written through the API (their events go outbox -> relay -> JetStream ->
the projection's consumer) while poison messages of both kinds (schema-invalid, and an
event whose handler raises) are published beside them; meanwhile the link is slowed, cut,
and NATS itself is killed and restarted (its JetStream file store survives).

Proves: every good event is applied to the projection exactly once (its id once in the
dedup table, the counts equal to the documents written), every poison message ends in the
dead letters exactly once after its attempts, and nothing is lost: each message published
is either applied or dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import nats
import psycopg

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    Tenant,
    client_for,
    create_tenant,
    is_ready,
    unpublished_count,
    wait_until,
    write_documents,
)
from _helpers.event_consumer import (
    INJECTED_EVENT_IDS,
    RawMessage,
    applied_event_ids,
    consumer_idle,
    dead_letters,
    document_event,
    outbox_event_ids,
    projection_rows,
    unparseable,
)
from testkit.chaos import FaultProxyFactory, proxied_url
from testkit.chaos.servers import KillableServer
from testkit.infra.addresses import host_port

from {{ cookiecutter.package_name }}.event_messages import tenant_subject
from {{ cookiecutter.package_name }}.relay import ensure_stream

MAX_ATTEMPTS = 3
SERVICE_SETTINGS = {
    "CONSUMER_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "CONSUMER_BACKOFF_SECONDS": "0.2",
    "CONSUMER_BACKOFF_MAX_SECONDS": "0.4",
    # Acks lost to the faults come back quickly: the dedup must absorb the redeliveries.
    "CONSUMER_ACK_WAIT_SECONDS": "1",
}


def test_poison_message(
    ephemeral_nats: KillableServer,
    fault_proxy: FaultProxyFactory,
    chaos_dependencies: Dependencies,
    chaos_service: ServiceStarter,
) -> None:
    address = host_port(ephemeral_nats.url)
    assert address is not None
    proxy = fault_proxy("nats", address)
    dependencies = replace(chaos_dependencies, nats_url=proxied_url(ephemeral_nats.url, proxy))
    prefix = dependencies.subject_prefix
    poison: list[RawMessage] = []

    def inject(tenant: Tenant, count: int) -> None:
        """Publish poison messages straight to NATS (not through the service's faulty link)."""
        batch: list[RawMessage] = []
        for _ in range(count):
            number = len(poison) + len(batch)
            if number % 2:
                batch.append(unparseable(tenant_subject(prefix, tenant.id), number))
            else:
                batch.append(
                    document_event(
                        prefix, event_id=INJECTED_EVENT_IDS + number, tenant_id=uuid.uuid4()
                    )
                )
        asyncio.run(_publish(ephemeral_nats.url, prefix, batch))
        poison.extend(batch)

    with (
        chaos_service(dependencies, **SERVICE_SETTINGS) as server,
        client_for(server) as client,
        _connection(dependencies.database_url) as database,
    ):
        tenant = create_tenant(client)
        wait_until(lambda: is_ready(client), what="the service connected to NATS")
        written = _write(client, tenant, "calm", 4)
        inject(tenant, 2)

        with (
            proxy.toxic("latency", latency=150),
            proxy.toxic("latency", stream="upstream", latency=150),
        ):
            written += _write(client, tenant, "slow", 4)
            inject(tenant, 2)

        with proxy.down():
            written += _write(client, tenant, "cut", 4)  # their events wait in the outbox
            inject(tenant, 2)  # the stream takes them; the consumer gets them once the link is back

        ephemeral_nats.kill()
        written += _write(client, tenant, "killed", 3)
        ephemeral_nats.start()
        written += _write(client, tenant, "after", 3)
        inject(tenant, 1)

        wait_until(lambda: unpublished_count(dependencies.database_url) == 0, what="outbox drained")
        events = outbox_event_ids(database)
        wait_until(
            lambda: sorted(set(applied_event_ids(database))) == events,
            what="every good event applied",
        )
        wait_until(
            lambda: len(dead_letters(database)) >= len(poison), what="every poison dead-lettered"
        )
        wait_until(
            lambda: asyncio.run(_idle(ephemeral_nats.url, prefix)),
            what="the consumer settled every message",
        )

        # Good: each event applied once, and the read model counts every document written.
        assert applied_event_ids(database) == events
        assert len(events) == len(written)
        (row,) = projection_rows(database).values()
        assert (row[0], row[-1]) == (len(written), len(written))  # created, events_applied
        stats = client.get("/document-stats", headers=tenant.headers).json()
        assert stats["documents"] == len(written)
        # Poison: each in the dead letters once, after its attempts, with its headers.
        letters = dead_letters(database)
        assert sorted(letter.data for letter in letters) == sorted(m.data for m in poison)
        assert all(letter.attempts >= MAX_ATTEMPTS for letter in letters)
        by_data = {message.data: message for message in poison}
        assert all(letter.headers == by_data[letter.data].headers for letter in letters)


def _write(client: httpx.Client, tenant: Tenant, phase: str, count: int) -> list[str]:
    return write_documents(client, tenant, [f"{phase} {n}" for n in range(count)])


@contextlib.contextmanager
def _connection(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as connection:
        yield connection


async def _publish(url: str, prefix: str, messages: list[RawMessage]) -> None:
    client = await nats.connect(url, connect_timeout=2)
    try:
        context = client.jetstream()
        await ensure_stream(context, subject_prefix=prefix)
        for message in messages:
            await context.publish(message.subject, message.data, headers=message.headers)
    finally:
        await client.close()


async def _idle(url: str, prefix: str) -> bool:
    client = await nats.connect(url, connect_timeout=2)
    try:
        return await consumer_idle(client.jetstream(), prefix)
    finally:
        await client.close()
