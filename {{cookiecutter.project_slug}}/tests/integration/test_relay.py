"""The outbox relay against real NATS JetStream: order, marking, and a NATS outage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import psycopg
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from _fixtures.service import ServiceFactory, ServiceHarness, TenantWithKey, create_tenant
from testkit.chaos.servers import KillableServer

from {{ cookiecutter.package_name }}.event_messages import (
    MSG_ID_HEADER,
    EventMessage,
    SeenEvents,
    all_tenants_subject,
    stream_name,
)
from {{ cookiecutter.package_name }}.relay import (
    ensure_stream,
    relay_once,
    run_relay,
)

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def _jetstream(url: str, prefix: str) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    client = await nats.connect(url)
    jetstream = client.jetstream()
    await ensure_stream(jetstream, subject_prefix=prefix)
    try:
        yield client, jetstream
    finally:
        with contextlib.suppress(Exception):
            await jetstream.delete_stream(stream_name(prefix))
        await client.close()


async def _stored(jetstream: JetStreamContext, prefix: str) -> list[EventMessage]:
    """Every message the stream holds, read by a throwaway consumer, in stream order."""
    info = await jetstream.stream_info(stream_name(prefix))
    if info.state.messages == 0:
        return []
    subscription = await jetstream.pull_subscribe(all_tenants_subject(prefix))
    messages = await subscription.fetch(info.state.messages, timeout=5)
    for message in messages:
        assert message.headers is not None
        assert message.headers[MSG_ID_HEADER] == str(EventMessage.from_json(message.data).id)
    await subscription.unsubscribe()
    return [EventMessage.from_json(message.data) for message in messages]


async def _write_documents(service: ServiceHarness, tenant: TenantWithKey, count: int) -> None:
    for number in range(count):
        response = await service.client.post(
            "/documents", json={"title": f"doc {number}", "body": "b"}, headers=tenant.headers
        )
        assert response.status_code == 201


def _unpublished(connection: psycopg.Connection[Any]) -> int:
    row = connection.execute(
        "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_the_relay_publishes_in_id_order_and_marks_events_sent(
    service: ServiceHarness, tenant: TenantWithKey, admin_connection: psycopg.Connection[Any]
) -> None:
    await _write_documents(service, tenant, 5)
    prefix = service.settings.nats_subject_prefix
    async with _jetstream(service.settings.nats_url, prefix) as (_, jetstream):
        published = await relay_once(
            sessionmaker=service.resources.sessionmaker,
            jetstream=jetstream,
            subject_prefix=prefix,
            batch_size=3,
        )
        assert published == 3
        assert _unpublished(admin_connection) == 2
        second_batch = await relay_once(
            sessionmaker=service.resources.sessionmaker,
            jetstream=jetstream,
            subject_prefix=prefix,
            batch_size=3,
        )
        assert second_batch == 2
        stored = await _stored(jetstream, prefix)
    assert _unpublished(admin_connection) == 0
    ids = [message.id for message in stored]
    assert len(ids) == 5
    assert ids == sorted(ids)
    assert [message.payload["document"]["title"] for message in stored] == [
        f"doc {number}" for number in range(5)
    ]
    assert {message.tenant_id for message in stored} == {tenant.id}


async def test_a_republished_event_is_dropped_by_jetstream_and_by_the_consumer(
    service: ServiceHarness, tenant: TenantWithKey, admin_connection: psycopg.Connection[Any]
) -> None:
    # A relay that crashed after publishing but before marking: the next run sends again.
    await _write_documents(service, tenant, 2)
    prefix = service.settings.nats_subject_prefix
    async with _jetstream(service.settings.nats_url, prefix) as (_, jetstream):
        for _ in range(2):
            admin_connection.execute("UPDATE outbox_events SET published_at = NULL")
            await relay_once(
                sessionmaker=service.resources.sessionmaker,
                jetstream=jetstream,
                subject_prefix=prefix,
                batch_size=10,
            )
        stored = await _stored(jetstream, prefix)
    assert len(stored) == 2  # the duplicate window kept one copy of each
    seen = SeenEvents()
    redelivered = [*stored, *stored]  # beyond the window, the consumer's job
    assert [m.id for m in redelivered if seen.first_time(m.id)] == [m.id for m in stored]


async def test_events_wait_while_nats_is_down_and_all_go_out_once_after_it_returns(
    service_factory: ServiceFactory,
    ephemeral_nats: KillableServer,
    admin_connection: psycopg.Connection[Any],
) -> None:
    server = ephemeral_nats
    service = await service_factory(nats_url=server.url, relay_interval_seconds=0.05)
    tenant = await create_tenant(service.client, name="outage")
    prefix = service.settings.nats_subject_prefix
    await _write_documents(service, tenant, 2)

    relay = asyncio.create_task(_run_relay(service))
    try:
        await _until(lambda: _unpublished(admin_connection) == 0)
        await asyncio.to_thread(server.kill)
        await _write_documents(service, tenant, 3)  # writes still succeed without NATS
        await asyncio.sleep(0.5)
        assert _unpublished(admin_connection) == 3
        await asyncio.to_thread(server.restart)
        await _until(lambda: _unpublished(admin_connection) == 0)
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await service.resources.nats.aclose()

    async with _jetstream(server.url, prefix) as (_, jetstream):
        stored = await _stored(jetstream, prefix)
    seen = SeenEvents()
    delivered = [message for message in stored if seen.first_time(message.id)]
    titles = [message.payload["document"]["title"] for message in delivered]
    assert titles == ["doc 0", "doc 1", "doc 0", "doc 1", "doc 2"]
    assert len({message.id for message in delivered}) == 5


async def test_an_unexpected_error_in_one_round_does_not_stop_the_relay(
    service: ServiceHarness,
    tenant: TenantWithKey,
    admin_connection: psycopg.Connection[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A relay task that died would strand every later event while /readyz stays green.
    real_sessionmaker = service.resources.sessionmaker
    calls = 0

    def first_round_breaks() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in the first round")
        return real_sessionmaker()

    await _write_documents(service, tenant, 2)
    prefix = service.settings.nats_subject_prefix
    link = service.resources.nats
    await link.run()
    relay = asyncio.create_task(
        run_relay(
            sessionmaker=first_round_breaks,  # type: ignore[arg-type]
            link=link,
            subject_prefix=prefix,
            batch_size=100,
            interval_seconds=0.05,
        )
    )
    try:
        await _until(lambda: _unpublished(admin_connection) == 0)
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await link.aclose()
    async with _jetstream(service.settings.nats_url, prefix) as (_, jetstream):
        assert len(await _stored(jetstream, prefix)) == 2  # and the stream is dropped on exit
    assert calls >= 2
    assert "relay: round failed" in caplog.text
    assert "a bug in the first round" in caplog.text


async def _run_relay(service: ServiceHarness) -> None:
    link = service.resources.nats
    await link.run()
    await run_relay(
        sessionmaker=service.resources.sessionmaker,
        link=link,
        subject_prefix=service.settings.nats_subject_prefix,
        batch_size=100,
        interval_seconds=service.settings.relay_interval_seconds,
    )


async def _until(condition: Callable[[], bool], within_seconds: float = 15.0) -> None:
    # Polls the database: there is no event to wait on for "the relay marked the rows".
    async with asyncio.timeout(within_seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
