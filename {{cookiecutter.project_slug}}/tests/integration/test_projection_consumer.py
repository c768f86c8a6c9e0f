"""The document projection's consumer on real JetStream and Postgres: poison messages end in
the dead letters after their retries while good ones flow past them, a replay after a fix
applies a letter exactly once, and a rebuild from the outbox equals the incremental state."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import psycopg
import pytest
from nats.js import JetStreamContext

from _fixtures.service import ServiceFactory, ServiceHarness, TenantWithKey, create_tenant
from _helpers.event_consumer import (
    INJECTED_EVENT_IDS,
    TRACE_HEADER,
    applied_event_ids,
    consumer_idle,
    dead_letters,
    document_event,
    jetstream,
    outbox_event_ids,
    projection_rows,
    publish,
    unparseable,
)

from {{ cookiecutter.package_name }} import dead_letters as dead_letter_queue
from {{ cookiecutter.package_name }} import projection
from {{ cookiecutter.package_name }}.event_messages import (
    MSG_ID_HEADER,
    EventMessage,
    tenant_subject,
)
from {{ cookiecutter.package_name }}.projection_consumer import (
    REPLAY_HANDLERS,
    run_projection_consumer,
)
from {{ cookiecutter.package_name }}.redelivery import RedeliveryPolicy
from {{ cookiecutter.package_name }}.relay import relay_once

pytestmark = pytest.mark.anyio

# Short enough for a fast test; long enough that the good messages are all applied before
# the poison ones exhaust their attempts (0.4 s + 0.8 s of backoff at least).
FAST_RETRIES = {
    "consumer_max_attempts": 3,
    "consumer_backoff_seconds": 0.4,
    "consumer_backoff_max_seconds": 0.8,
    "consumer_ack_wait_seconds": 2.0,
}


@contextlib.asynccontextmanager
async def _consuming(service: ServiceHarness) -> AsyncIterator[None]:
    """The service's consumer running as it does in the app (whose lifespan ASGI skips)."""
    settings = service.settings
    link = service.resources.nats
    await link.run()
    task = asyncio.create_task(
        run_projection_consumer(
            sessionmaker=service.resources.sessionmaker,
            link=link,
            subject_prefix=settings.nats_subject_prefix,
            policy=RedeliveryPolicy.from_settings(settings),
            ack_wait_seconds=settings.consumer_ack_wait_seconds,
            batch_size=settings.consumer_batch_size,
        )
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until(condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    # Polls Postgres or the consumer's info: there is no event to wait on for either.
    async with asyncio.timeout(within):
        while True:
            outcome = condition()
            if outcome if isinstance(outcome, bool) else await outcome:
                return
            await asyncio.sleep(0.05)


async def _write(service: ServiceHarness, tenant: TenantWithKey, titles: list[str]) -> list[str]:
    ids = []
    for title in titles:
        response = await service.client.post(
            "/documents", json={"title": title, "body": "b"}, headers=tenant.headers
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def _relay(service: ServiceHarness, context: JetStreamContext) -> None:
    await relay_once(
        sessionmaker=service.resources.sessionmaker,
        jetstream=context,
        subject_prefix=service.settings.nats_subject_prefix,
        batch_size=1_000,
    )


async def test_poison_messages_are_dead_lettered_after_their_attempts_and_good_ones_flow_past(
    service_factory: ServiceFactory, admin_connection: psycopg.Connection[Any]
) -> None:
    service = await service_factory(**FAST_RETRIES)
    tenant = await create_tenant(service.client, name="consumer")
    prefix = service.settings.nats_subject_prefix
    schema_invalid = unparseable(tenant_subject(prefix, tenant.id), 1)
    handler_raises = document_event(prefix, event_id=INJECTED_EVENT_IDS + 1, tenant_id=uuid.uuid4())
    async with jetstream(service.settings.nats_url, prefix) as (_, context):
        await publish(context, [schema_invalid, handler_raises])
        await _write(service, tenant, ["one", "two", "three"])
        await _relay(service, context)  # the good events, behind the poison ones
        written = outbox_event_ids(admin_connection)
        async with _consuming(service):
            await _until(lambda: applied_event_ids(admin_connection) == written)
            # Good messages did not wait for the poison ones to run out of attempts.
            assert dead_letters(admin_connection) == []
            await _until(lambda: len(dead_letters(admin_connection)) == 2)
            await _until(lambda: consumer_idle(context, prefix))

    letters = dead_letters(admin_connection)
    assert [letter.data for letter in letters] == [schema_invalid.data, handler_raises.data]
    assert [letter.attempts for letter in letters] == [3, 3]
    assert "InvalidEventError: not a document event" in letters[0].error
    assert "IntegrityError" in letters[1].error
    assert "projection_applied_events_tenant_id_fkey" in letters[1].error
    for letter, sent in zip(letters, (schema_invalid, handler_raises), strict=True):
        assert letter.subject == sent.subject
        # The original headers, as published (JetStream's own are not added on delivery).
        assert letter.headers == sent.headers
        assert not letter.replayed
    assert letters[0].headers[TRACE_HEADER] == "p1"
    # Each good event applied exactly once, and counted.
    assert applied_event_ids(admin_connection) == written
    (row,) = projection_rows(admin_connection).values()
    assert row[0] == 3  # documents_created
    assert row[-1] == 3  # events_applied


async def test_dead_letter_replay_after_the_fix_applies_the_event_exactly_once(
    service_factory: ServiceFactory, admin_connection: psycopg.Connection[Any]
) -> None:
    service = await service_factory(**FAST_RETRIES | {"consumer_max_attempts": 1})
    prefix = service.settings.nats_subject_prefix
    missing_tenant = uuid.uuid4()
    event_id = INJECTED_EVENT_IDS + 2
    poison = document_event(prefix, event_id=event_id, tenant_id=missing_tenant)
    again = document_event(prefix, event_id=event_id, tenant_id=missing_tenant, msg_id="again")
    sessionmaker = service.resources.sessionmaker
    async with (
        jetstream(service.settings.nats_url, prefix) as (_, context),
        _consuming(service),
    ):
        await publish(context, [poison])
        await _until(lambda: len(dead_letters(admin_connection)) == 1)
        assert applied_event_ids(admin_connection) == []

        # The fix: the tenant the event belongs to now exists.
        admin_connection.execute(
            "INSERT INTO tenants (id, name) VALUES (%s, 'restored')", (missing_tenant,)
        )
        first = await dead_letter_queue.replay(sessionmaker, handlers=REPLAY_HANDLERS)
        assert [result.outcome for result in first] == [dead_letter_queue.ReplayOutcome.APPLIED]
        assert await dead_letter_queue.replay(sessionmaker, handlers=REPLAY_HANDLERS) == []

        # The same event arrives again (a relay re-publishing it past the duplicate window):
        # the consumer's dedup drops it, the projection does not move.
        await publish(context, [again])
        await _until(lambda: consumer_idle(context, prefix))

    assert applied_event_ids(admin_connection) == [event_id]
    assert projection_rows(admin_connection)[missing_tenant][-1] == 1  # events_applied
    (letter,) = dead_letters(admin_connection)
    assert letter.replayed


async def test_replaying_a_letter_whose_event_was_applied_meanwhile_is_a_duplicate(
    service: ServiceHarness, tenant: TenantWithKey, admin_connection: psycopg.Connection[Any]
) -> None:
    prefix = service.settings.nats_subject_prefix
    event = document_event(prefix, event_id=INJECTED_EVENT_IDS + 3, tenant_id=tenant.id)
    sessionmaker = service.resources.sessionmaker
    async with sessionmaker() as session, session.begin():
        await dead_letter_queue.record(
            session,
            dead_letter_queue.FailedMessage(
                consumer="document-projection",
                stream="S",
                stream_sequence=1,
                subject=event.subject,
                headers=event.headers,
                data=event.data,
                error="RuntimeError: a bug, since fixed",
                attempts=5,
            ),
        )
        await projection.apply_event(session, EventMessage.from_json(event.data))

    results = await dead_letter_queue.replay(sessionmaker, handlers=REPLAY_HANDLERS)

    assert [result.outcome for result in results] == [dead_letter_queue.ReplayOutcome.DUPLICATE]
    assert applied_event_ids(admin_connection) == [INJECTED_EVENT_IDS + 3]
    assert projection_rows(admin_connection)[tenant.id][-1] == 1
    assert dead_letters(admin_connection)[0].replayed


async def test_projection_rebuild_from_the_outbox_equals_the_incremental_state(
    service: ServiceHarness,
    tenant: TenantWithKey,
    other_tenant: TenantWithKey,
    admin_connection: psycopg.Connection[Any],
) -> None:
    client = service.client
    first, second, *_ = await _write(service, tenant, ["a", "b", "c", "d"])
    await _write(service, other_tenant, ["x", "y"])
    patched = await client.patch(
        f"/documents/{first}", json={"title": "a2"}, headers=tenant.headers
    )
    assert patched.status_code == 200
    assert (await client.delete(f"/documents/{second}", headers=tenant.headers)).status_code == 204
    prefix = service.settings.nats_subject_prefix
    async with jetstream(service.settings.nats_url, prefix) as (_, context):
        await _relay(service, context)
        written = outbox_event_ids(admin_connection)
        async with _consuming(service):
            await _until(lambda: applied_event_ids(admin_connection) == written)
            # Every event delivered a second time (a relay re-publishing past the window).
            await _redeliver_with_new_ids(service, context, admin_connection)
            await _until(lambda: consumer_idle(context, prefix))
    incremental = projection_rows(admin_connection)

    stats = (await client.get("/document-stats", headers=tenant.headers)).json()
    newest = admin_connection.execute(
        "SELECT max(created_at) FROM documents WHERE tenant_id = %s", (tenant.id,)
    ).fetchone()
    assert newest is not None
    assert stats["documents"] == 3
    assert (stats["documents_created"], stats["documents_updated"]) == (4, 1)
    assert stats["documents_deleted"] == 1
    assert stats["events_applied"] == 6
    assert datetime.fromisoformat(stats["last_ingest_at"]) == newest[0]
    assert (await client.get("/document-stats", headers=other_tenant.headers)).json()[
        "documents"
    ] == 2

    async with service.resources.sessionmaker() as session, session.begin():
        result = await projection.rebuild(session)
    assert (result.events_read, result.events_applied, result.tenants) == (8, 8, 2)
    assert projection_rows(admin_connection) == incremental
    assert applied_event_ids(admin_connection) == written


async def _redeliver_with_new_ids(
    service: ServiceHarness, context: JetStreamContext, connection: psycopg.Connection[Any]
) -> None:
    """Publish every outbox event again under a new Nats-Msg-Id, so JetStream keeps both."""
    rows = connection.execute(
        "SELECT id, previous_id, tenant_id, event_type, created_at, payload FROM outbox_events"
    ).fetchall()
    for row in rows:
        message = EventMessage(*row)
        await context.publish(
            tenant_subject(service.settings.nats_subject_prefix, message.tenant_id),
            message.to_json().encode(),
            headers={MSG_ID_HEADER: f"again-{message.id}"},
        )
