"""The document projection in Postgres: applied event by event, rebuilt from the outbox, read.

apply_event() adds one event's delta and records its id in one transaction, so a
redelivered event (JetStream is at least once) is skipped by the primary key of
projection_applied_events, not by memory that a restart would lose.

rebuild() recomputes everything from the outbox table, oldest id first. The outbox, not a
JetStream replay from sequence 1, because it is the record every event was committed to:
the stream is a copy that lags it (events wait there while NATS is down), that retention
or a deleted stream can shorten, and that holds only what the relay already published.
Reading it needs no NATS, and the rebuild replaces the projection in one transaction, so
readers see the old state or the new, never half of it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.event_messages import EventMessage
from {{ cookiecutter.package_name }}.models import (
    DocumentProjection,
    OutboxEvent,
    ProjectionAppliedEvent,
)
from {{ cookiecutter.package_name }}.projection_rules import (
    InvalidEventError,
    ProjectionDelta,
    TenantTotals,
    delta_for,
    fold,
)

# Namespace of the advisory lock between apply_event (shared) and rebuild (exclusive): a
# rebuild never interleaves with an incremental update. Arbitrary, unlike outbox.py's.
_PROJECTION_LOCK = 0x0B0D
REBUILD_BATCH_SIZE = 1_000


@dataclass(frozen=True, slots=True)
class RebuildResult:
    events_read: int
    events_applied: int
    events_invalid: int
    tenants: int


async def apply_event(session: AsyncSession, message: EventMessage) -> bool:
    """Add the event to the projection in the caller's transaction; False when it was
    applied before (or is of a type the projection does not count).

    Raises InvalidEventError for a payload that does not match its type's schema, and
    IntegrityError for an event of a tenant that does not exist.
    """
    delta = delta_for(message)
    if delta is None:
        return False
    await session.execute(select(func.pg_advisory_xact_lock_shared(_PROJECTION_LOCK)))
    first_time = await session.scalar(
        pg_insert(ProjectionAppliedEvent)
        .values(event_id=delta.event_id, tenant_id=delta.tenant_id)
        .on_conflict_do_nothing(index_elements=[ProjectionAppliedEvent.event_id])
        .returning(ProjectionAppliedEvent.event_id)
    )
    if first_time is None:
        return False
    await _add(session, delta)
    return True


async def rebuild(session: AsyncSession) -> RebuildResult:
    """Replace the projection by the fold of every outbox event, in the caller's transaction."""
    await session.execute(select(func.pg_advisory_xact_lock(_PROJECTION_LOCK)))
    await session.execute(delete(ProjectionAppliedEvent))
    await session.execute(delete(DocumentProjection))
    deltas: list[ProjectionDelta] = []
    events_read = invalid = 0
    async for message in _outbox_in_id_order(session):
        events_read += 1
        try:
            delta = delta_for(message)
        except InvalidEventError:
            # The consumer dead-letters such an event: leaving it out keeps the two equal.
            invalid += 1
            continue
        if delta is not None:
            deltas.append(delta)
    totals = fold(deltas)
    for start in range(0, len(deltas), REBUILD_BATCH_SIZE):
        batch = deltas[start : start + REBUILD_BATCH_SIZE]
        await session.execute(
            insert(ProjectionAppliedEvent),
            [{"event_id": d.event_id, "tenant_id": d.tenant_id} for d in batch],
        )
    if totals:
        await session.execute(
            insert(DocumentProjection),
            [_row(tenant_id, tenant) for tenant_id, tenant in totals.items()],
        )
    return RebuildResult(
        events_read=events_read,
        events_applied=len(deltas),
        events_invalid=invalid,
        tenants=len(totals),
    )


async def tenant_totals(session: AsyncSession, *, tenant_id: uuid.UUID) -> TenantTotals | None:
    """The tenant's row of the projection; None before its first counted event."""
    row = await session.get(DocumentProjection, tenant_id, populate_existing=True)
    return None if row is None else _totals(row)


async def all_totals(session: AsyncSession) -> dict[uuid.UUID, TenantTotals]:
    """Every tenant's row (tests compare the incremental state with the rebuilt one)."""
    rows = await session.scalars(
        select(DocumentProjection).execution_options(populate_existing=True)
    )
    return {row.tenant_id: _totals(row) for row in rows}


async def applied_event_ids(session: AsyncSession) -> set[int]:
    return set(await session.scalars(select(ProjectionAppliedEvent.event_id)))


async def _add(session: AsyncSession, delta: ProjectionDelta) -> None:
    """Upsert: the first event of a tenant inserts its row, later ones add to it."""
    statement = pg_insert(DocumentProjection).values(_row(delta.tenant_id, TenantTotals.of(delta)))
    current = DocumentProjection
    new = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DocumentProjection.tenant_id],
            set_={
                "documents_created": current.documents_created + new.documents_created,
                "documents_updated": current.documents_updated + new.documents_updated,
                "documents_deleted": current.documents_deleted + new.documents_deleted,
                # GREATEST ignores NULLs: an event without an ingest time keeps the old one.
                "last_ingest_at": func.greatest(current.last_ingest_at, new.last_ingest_at),
                "last_event_at": func.greatest(current.last_event_at, new.last_event_at),
                "last_event_id": func.greatest(current.last_event_id, new.last_event_id),
                "events_applied": current.events_applied + new.events_applied,
            },
        )
    )


async def _outbox_in_id_order(session: AsyncSession) -> AsyncIterator[EventMessage]:
    """Every outbox event, oldest first, read in keyset batches of plain rows (no ORM
    objects piling up in the session): memory stays bounded however long the history."""
    after = 0
    columns = (
        OutboxEvent.id,
        OutboxEvent.previous_id,
        OutboxEvent.tenant_id,
        OutboxEvent.event_type,
        OutboxEvent.created_at,
        OutboxEvent.payload,
    )
    while True:
        rows = (
            await session.execute(
                select(*columns)
                .where(OutboxEvent.id > after)
                .order_by(OutboxEvent.id)
                .limit(REBUILD_BATCH_SIZE)
            )
        ).all()
        for row in rows:
            yield EventMessage(
                id=row.id,
                previous_id=row.previous_id,
                tenant_id=row.tenant_id,
                type=row.event_type,
                created_at=row.created_at,
                payload=row.payload,
            )
        if len(rows) < REBUILD_BATCH_SIZE:
            return
        after = rows[-1].id


def _row(tenant_id: uuid.UUID, totals: TenantTotals) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "documents_created": totals.documents_created,
        "documents_updated": totals.documents_updated,
        "documents_deleted": totals.documents_deleted,
        "last_ingest_at": totals.last_ingest_at,
        "last_event_at": totals.last_event_at,
        "last_event_id": totals.last_event_id,
        "events_applied": totals.events_applied,
    }


def _totals(row: DocumentProjection) -> TenantTotals:
    return TenantTotals(
        documents_created=row.documents_created,
        documents_updated=row.documents_updated,
        documents_deleted=row.documents_deleted,
        last_ingest_at=row.last_ingest_at,
        last_event_at=row.last_event_at,
        last_event_id=row.last_event_id,
        events_applied=row.events_applied,
    )
