"""For any history of document events and any at-least-once delivery of it (duplicates,
any order), the projection the consumer builds incrementally equals the one rebuilt by
replaying the outbox, and both say what the history did. Real Postgres: the SQL upsert is
what could go wrong, so it is what the property runs."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers.event_consumer import applied_event_ids, projection_rows

from {{ cookiecutter.package_name }} import outbox, projection
from {{ cookiecutter.package_name }}.db import create_engine, create_sessionmaker
from {{ cookiecutter.package_name }}.event_messages import EventMessage
from {{ cookiecutter.package_name }}.outbox import EventType
from {{ cookiecutter.package_name }}.projection_rules import (
    delta_for,
    fold,
)
from {{ cookiecutter.package_name }}.settings import Settings

TENANTS = 2
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# An operation: (kind, tenant index, which live document, minutes after EPOCH).
operations = st.lists(
    st.tuples(
        st.sampled_from(["create", "create", "update", "delete"]),
        st.integers(0, TENANTS - 1),
        st.integers(0, 20),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=12,
)


def _history(
    ops: list[tuple[str, int, int, int]],
) -> list[tuple[int, EventType, dict[str, Any]]]:
    """Turn drawn operations into a valid history: updates and deletes of live documents."""
    live: dict[int, list[str]] = {index: [] for index in range(TENANTS)}
    events: list[tuple[int, EventType, dict[str, Any]]] = []
    for kind, tenant, pick, minutes in ops:
        if kind == "create":
            document = str(uuid.uuid4())
            live[tenant].append(document)
            created_at = (EPOCH + timedelta(minutes=minutes)).isoformat()
            payload = {"document": {"id": document, "title": "t", "created_at": created_at}}
            events.append((tenant, EventType.DOCUMENT_CREATED, payload))
        elif live[tenant]:
            document = live[tenant][pick % len(live[tenant])]
            if kind == "delete":
                live[tenant].remove(document)
                events.append((tenant, EventType.DOCUMENT_DELETED, {"document": {"id": document}}))
            else:
                payload = {"document": {"id": document, "created_at": EPOCH.isoformat()}}
                events.append((tenant, EventType.DOCUMENT_UPDATED, payload))
    return events


def _at_least_once(messages: list[EventMessage]) -> st.SearchStrategy[list[EventMessage]]:
    """Every message, some of them again, in any order: what an at-least-once link delivers."""
    if not messages:
        return st.just([])
    again = st.lists(st.sampled_from(messages), max_size=len(messages))
    return again.flatmap(lambda repeats: st.permutations([*messages, *repeats]))


def _reset(connection: psycopg.Connection[Any]) -> list[uuid.UUID]:
    """An empty database with the example's tenants (examples share the test's database)."""
    connection.execute("TRUNCATE tenants, dead_letters CASCADE")
    tenants = [uuid.uuid4() for _ in range(TENANTS)]
    for tenant in tenants:
        connection.execute("INSERT INTO tenants (id, name) VALUES (%s, 'p')", (tenant,))
    return tenants


async def _deliver_and_rebuild(
    settings: Settings, tenants: list[uuid.UUID], history: list[Any], data: st.DataObject
) -> list[EventMessage]:
    """Record the history in the outbox, deliver it at least once, then rebuild; the events."""
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            rows = [
                await outbox.record_event(
                    session, tenant_id=tenants[tenant], event_type=event_type, payload=payload
                )
                for tenant, event_type, payload in history
            ]
            messages = [EventMessage.from_row(row) for row in rows]
        # At least once, in any order: every event, some of them again.
        for message in data.draw(_at_least_once(messages), "deliveries"):
            async with sessionmaker() as session, session.begin():  # one each, as the consumer
                await projection.apply_event(session, message)
        return messages
    finally:
        await engine.dispose()


async def _rebuild(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await projection.rebuild(session)
    finally:
        await engine.dispose()


@settings(
    max_examples=15,
    deadline=None,
    # Each example empties the tables itself (_reset) and opens its own engine on its own
    # event loop, so the function-scoped settings and connection are safely shared.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=operations, data=st.data())
def test_projection_rebuild_equals_incremental_for_any_delivery_order(
    service_settings: Settings,
    admin_connection: psycopg.Connection[Any],
    ops: list[tuple[str, int, int, int]],
    data: st.DataObject,
) -> None:
    tenants = _reset(admin_connection)
    history = _history(ops)
    messages = anyio.run(_deliver_and_rebuild, service_settings, tenants, history, data)
    incremental = projection_rows(admin_connection)
    anyio.run(_rebuild, service_settings)

    assert projection_rows(admin_connection) == incremental
    assert applied_event_ids(admin_connection) == sorted(message.id for message in messages)
    # And both are right: each tenant's counts are what its history did.
    for index, tenant in enumerate(tenants):
        kinds = Counter(event_type for owner, event_type, _ in history if owner == index)
        if not kinds:
            assert tenant not in incremental
            continue
        created, updated, deleted, _, _, last_event_id, applied = incremental[tenant]
        assert (created, updated, deleted) == (
            kinds[EventType.DOCUMENT_CREATED],
            kinds[EventType.DOCUMENT_UPDATED],
            kinds[EventType.DOCUMENT_DELETED],
        )
        own = [message.id for message in messages if message.tenant_id == tenant]
        assert (last_event_id, applied) == (max(own), len(own))


@given(ops=operations, data=st.data())
def test_projection_replay_in_any_order_folds_to_the_same_totals(
    ops: list[tuple[str, int, int, int]], data: st.DataObject
) -> None:
    # The pure rule behind the property above: the fold ignores order and repeats.
    tenants = [uuid.uuid4() for _ in range(TENANTS)]
    messages = [
        EventMessage(
            id=number,
            previous_id=None,
            tenant_id=tenants[tenant],
            type=event_type,
            created_at=EPOCH + timedelta(seconds=number),
            payload=payload,
        )
        for number, (tenant, event_type, payload) in enumerate(_history(ops), start=1)
    ]
    deliveries = data.draw(_at_least_once(messages), "deliveries")
    in_order = fold(delta for m in messages if (delta := delta_for(m)) is not None)
    shuffled = fold(delta for m in deliveries if (delta := delta_for(m)) is not None)
    assert shuffled == in_order
