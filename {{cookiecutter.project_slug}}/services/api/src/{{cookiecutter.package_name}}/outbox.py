"""The transactional outbox: events written with the data they describe, relayed later.

A document write and its event commit or roll back together, so NATS subscribers never
hear of a write that did not happen and never miss one that did (relay.py delivers).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import OutboxEvent

# Namespace (first key) of the per-tenant advisory lock taken by record_event; an
# arbitrary constant so other advisory locks in this database cannot collide with it.
_TENANT_EVENTS_LOCK = 0x0B0C


class EventType(enum.StrEnum):
    DOCUMENT_CREATED = "document.created"
    DOCUMENT_UPDATED = "document.updated"
    DOCUMENT_DELETED = "document.deleted"
    # A URL ingest's saga was compensated after storing its (never listed) document.
    DOCUMENT_INGEST_FAILED = "document.ingest_failed"


async def record_event(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event_type: EventType,
    payload: dict[str, Any],
) -> OutboxEvent:
    """Add an event to the caller's transaction; it is relayed only if that transaction commits.

    A bigserial id is taken at insert time but becomes visible at commit, so two concurrent
    writers could commit ids 8 and 7 in that order and a reader that had seen 8 would never
    look back for 7. The transaction-scoped lock below, taken before the id, makes one
    tenant's events commit in id order (held until commit; other tenants are not blocked),
    which is what resuming a tenant's stream after an id relies on.
    """
    await session.execute(
        select(func.pg_advisory_xact_lock(_TENANT_EVENTS_LOCK, func.hashtext(str(tenant_id))))
    )
    previous_id = await session.scalar(
        select(func.max(OutboxEvent.id)).where(OutboxEvent.tenant_id == tenant_id)
    )
    event = OutboxEvent(
        tenant_id=tenant_id,
        previous_id=previous_id,
        event_type=str(event_type),
        payload=payload,
    )
    session.add(event)
    await session.flush()
    return event


async def fetch_unpublished(session: AsyncSession, *, limit: int) -> list[OutboxEvent]:
    """The oldest unpublished events, locked for this transaction; rows another relay holds are
    skipped (SKIP LOCKED), so concurrent relays never publish the same event at once."""
    statement = (
        select(OutboxEvent)
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(statement))


async def mark_sent(session: AsyncSession, *, event_ids: Sequence[int]) -> None:
    if not event_ids:
        return
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(event_ids))
        .values(published_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )


async def events_after(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    after: int,
    limit: int,
    up_to: int | None = None,
) -> list[OutboxEvent]:
    """The tenant's events with ``after < id (<= up_to)``, oldest first, published or not."""
    statement = select(OutboxEvent).where(
        OutboxEvent.tenant_id == tenant_id, OutboxEvent.id > after
    )
    if up_to is not None:
        statement = statement.where(OutboxEvent.id <= up_to)
    return list(await session.scalars(statement.order_by(OutboxEvent.id).limit(limit)))


async def latest_event_id(session: AsyncSession, *, tenant_id: uuid.UUID) -> int:
    """The tenant's newest event id, 0 when it has none (ids start at 1)."""
    latest = await session.scalar(
        select(func.max(OutboxEvent.id)).where(OutboxEvent.tenant_id == tenant_id)
    )
    return latest or 0


async def outbox_lag_seconds(session: AsyncSession) -> float:
    """Age of the oldest unpublished event (0.0 when all are out): the metrics gauge's value."""
    oldest = await session.scalar(
        select(func.min(OutboxEvent.created_at)).where(OutboxEvent.published_at.is_(None))
    )
    if oldest is None:
        return 0.0
    now = await session.scalar(select(func.now()))
    assert now is not None  # SELECT now() always returns a row
    return max((now - oldest).total_seconds(), 0.0)
