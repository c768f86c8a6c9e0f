"""For the event consumer's tests (integration, chaos): poison and good messages to publish,
and what the consumer left in Postgres (dead letters, applied ids, the projection)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
import psycopg
from nats.aio.client import Client
from nats.js import JetStreamContext

from {{ cookiecutter.package_name }}.event_messages import (
    MSG_ID_HEADER,
    EventMessage,
    stream_name,
    tenant_subject,
)
from {{ cookiecutter.package_name }}.projection_consumer import (
    CONSUMER_NAME,
)
from {{ cookiecutter.package_name }}.relay import ensure_stream

# Far above any outbox id (a bigserial from 1): injected events never collide with real ones.
INJECTED_EVENT_IDS = 10**12
TRACE_HEADER = "X-Trace-Id"


@dataclass(frozen=True, slots=True)
class RawMessage:
    subject: str
    data: bytes
    headers: dict[str, str]


def unparseable(subject: str, number: int) -> RawMessage:
    """A schema-invalid message: JSON, but not an event (its parse fails on every attempt)."""
    data = json.dumps({"not": "an event", "number": number}).encode()
    return RawMessage(
        subject, data, {MSG_ID_HEADER: f"poison-{number}", TRACE_HEADER: f"p{number}"}
    )


def document_event(
    prefix: str, *, event_id: int, tenant_id: uuid.UUID, msg_id: str | None = None
) -> RawMessage:
    """A well-formed document.created event; for a tenant that does not exist its handler
    raises (the projection's foreign key), the other kind of poison message."""
    now = datetime.now(UTC)
    message = EventMessage(
        id=event_id,
        previous_id=None,
        tenant_id=tenant_id,
        type="document.created",
        created_at=now,
        payload={
            "document": {
                "id": str(uuid.uuid4()),
                "title": f"injected {event_id}",
                "body": "b",
                "created_at": now.isoformat(),
                "updated_at": now.isoformat(),
            }
        },
    )
    headers = {MSG_ID_HEADER: msg_id or f"event-{event_id}", TRACE_HEADER: f"e{event_id}"}
    return RawMessage(tenant_subject(prefix, tenant_id), message.to_json().encode(), headers)


@contextlib.asynccontextmanager
async def jetstream(url: str, prefix: str) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    """A client with the prefix's stream in place (deleted on exit, with its consumers)."""
    client = await nats.connect(url, connect_timeout=2)
    context = client.jetstream()
    await ensure_stream(context, subject_prefix=prefix)
    try:
        yield client, context
    finally:
        with contextlib.suppress(Exception):
            await context.delete_stream(stream_name(prefix))
        await client.close()


async def publish(context: JetStreamContext, messages: list[RawMessage]) -> None:
    for message in messages:
        await context.publish(message.subject, message.data, headers=message.headers, timeout=5)


async def consumer_idle(context: JetStreamContext, prefix: str) -> bool:
    """Whether the durable consumer has delivered and settled every message of the stream."""
    info = await context.consumer_info(stream_name(prefix), CONSUMER_NAME)
    return info.num_pending == 0 and info.num_ack_pending == 0


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    id: int
    subject: str
    stream_sequence: int
    headers: dict[str, str]
    data: bytes
    error: str
    attempts: int
    replayed: bool


def dead_letters(connection: psycopg.Connection[Any]) -> list[DeadLetterRow]:
    rows = connection.execute(
        "SELECT id, subject, stream_sequence, headers, data, error, attempts, "
        "replayed_at IS NOT NULL FROM dead_letters ORDER BY id"
    ).fetchall()
    return [
        DeadLetterRow(
            id=row[0],
            subject=row[1],
            stream_sequence=row[2],
            headers=row[3],
            data=bytes(row[4]),
            error=row[5],
            attempts=row[6],
            replayed=row[7],
        )
        for row in rows
    ]


def applied_event_ids(connection: psycopg.Connection[Any]) -> list[int]:
    """Every event id the projection counted (a list: a duplicate would show twice)."""
    rows = connection.execute("SELECT event_id FROM projection_applied_events ORDER BY 1")
    return [row[0] for row in rows.fetchall()]


def outbox_event_ids(connection: psycopg.Connection[Any]) -> list[int]:
    return [row[0] for row in connection.execute("SELECT id FROM outbox_events ORDER BY 1")]


def projection_rows(connection: psycopg.Connection[Any]) -> dict[uuid.UUID, tuple[Any, ...]]:
    rows = connection.execute(
        "SELECT tenant_id, documents_created, documents_updated, documents_deleted, "
        "last_ingest_at, last_event_at, last_event_id, events_applied FROM document_projection"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}
