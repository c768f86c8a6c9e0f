"""The in-process fan-out behind /ws: bounded queues, overflow, tenant isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from {{ cookiecutter.package_name }}.event_hub import (
    RESYNC,
    EventHub,
)
from {{ cookiecutter.package_name }}.event_messages import EventMessage


def _event(event_id: int, tenant_id: uuid.UUID) -> EventMessage:
    return EventMessage(
        id=event_id,
        previous_id=event_id - 1 or None,
        tenant_id=tenant_id,
        type="document.created",
        created_at=datetime.now(UTC),
        payload={"document": {"id": str(uuid.uuid4())}},
    )


@pytest.mark.anyio
async def test_an_overflowing_subscriber_is_flagged_and_the_others_still_receive() -> None:
    hub = EventHub()
    tenant = uuid.uuid4()
    with hub.subscribe(tenant, queue_size=2) as slow, hub.subscribe(tenant, queue_size=10) as fast:
        for event_id in range(1, 6):
            hub.publish(_event(event_id, tenant))
        assert slow.overflowed.is_set()
        assert not fast.overflowed.is_set()
        assert [fast.queue.get_nowait().id for _ in range(5)] == [1, 2, 3, 4, 5]  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_events_reach_only_their_own_tenants_subscribers() -> None:
    hub = EventHub()
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    with hub.subscribe(tenant_a, queue_size=10) as a, hub.subscribe(tenant_b, queue_size=10) as b:
        hub.publish(_event(1, tenant_a))
        hub.resync_all()
        assert a.queue.qsize() == 2
        assert b.queue.get_nowait() is RESYNC
        assert b.queue.empty()
