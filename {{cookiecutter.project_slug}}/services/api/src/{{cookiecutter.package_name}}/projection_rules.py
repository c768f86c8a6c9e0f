"""What each document event changes in the document projection (the CQRS read model). Pure.

The projection is a sum of per-event deltas: counts add up, timestamps and ids take the
maximum. Sums and maxima do not depend on order, so applying one set of events in any order
gives one state: an out-of-order redelivery is harmless, and a rebuild that reads the outbox
in id order ends where the consumer ended incrementally. Duplicates are the store's concern
(projection.py keeps the applied event ids in the transaction that adds their deltas).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ValidationError

from {{ cookiecutter.package_name }}.event_messages import EventMessage
from {{ cookiecutter.package_name }}.outbox import EventType


class InvalidEventError(ValueError):
    """The message is not a document event this projection can read: a poison message."""


class _DocumentRef(BaseModel):
    id: uuid.UUID


class _DocumentState(_DocumentRef):
    created_at: AwareDatetime


class _WritePayload(BaseModel):
    document: _DocumentState


class _DeletePayload(BaseModel):
    document: _DocumentRef


_PAYLOAD_SCHEMAS: dict[str, type[BaseModel]] = {
    EventType.DOCUMENT_CREATED: _WritePayload,
    EventType.DOCUMENT_UPDATED: _WritePayload,
    EventType.DOCUMENT_DELETED: _DeletePayload,
}
# The event types the projection counts; others on the subject (e.g. a failed ingest,
# whose document was never listed) leave it unchanged.
PROJECTED_TYPES = frozenset(_PAYLOAD_SCHEMAS)


@dataclass(frozen=True, slots=True)
class ProjectionDelta:
    """One event's change to its tenant's totals."""

    event_id: int
    tenant_id: uuid.UUID
    event_at: datetime
    created: int = 0
    updated: int = 0
    deleted: int = 0
    # The created document's creation time (created events only).
    ingested_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TenantTotals:
    """A tenant's row of the projection."""

    documents_created: int
    documents_updated: int
    documents_deleted: int
    last_ingest_at: datetime | None
    last_event_at: datetime
    last_event_id: int
    events_applied: int

    @property
    def documents(self) -> int:
        """Documents now stored. Never below 0: a delete redelivered before its create
        (the create is being retried) is counted, but not shown as a negative number."""
        return max(self.documents_created - self.documents_deleted, 0)

    @classmethod
    def of(cls, delta: ProjectionDelta) -> TenantTotals:
        return cls(
            documents_created=delta.created,
            documents_updated=delta.updated,
            documents_deleted=delta.deleted,
            last_ingest_at=delta.ingested_at,
            last_event_at=delta.event_at,
            last_event_id=delta.event_id,
            events_applied=1,
        )

    def plus(self, delta: ProjectionDelta) -> TenantTotals:
        return TenantTotals(
            documents_created=self.documents_created + delta.created,
            documents_updated=self.documents_updated + delta.updated,
            documents_deleted=self.documents_deleted + delta.deleted,
            last_ingest_at=_latest(self.last_ingest_at, delta.ingested_at),
            last_event_at=max(self.last_event_at, delta.event_at),
            last_event_id=max(self.last_event_id, delta.event_id),
            events_applied=self.events_applied + 1,
        )


def parse_event(raw: bytes) -> EventMessage:
    """The event in a message body; InvalidEventError when it is not one."""
    try:
        message = EventMessage.from_json(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidEventError(f"not a document event: {type(exc).__name__}: {exc}") from exc
    if message.id < 1:
        raise InvalidEventError(f"event id must be at least 1, got {message.id}")
    if message.created_at.tzinfo is None:
        raise InvalidEventError(f"event {message.id}: created_at has no time zone")
    return message


def delta_for(message: EventMessage) -> ProjectionDelta | None:
    """The event's change to the projection; None for a type it does not count.

    Raises InvalidEventError when the payload does not match its type's schema.
    """
    schema = _PAYLOAD_SCHEMAS.get(message.type)
    if schema is None:
        return None
    try:
        payload = schema.model_validate(message.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidEventError(
            f"{message.type} event {message.id}: payload.{where}: {first['msg']}"
        ) from exc
    base = ProjectionDelta(
        event_id=message.id, tenant_id=message.tenant_id, event_at=message.created_at
    )
    if message.type == EventType.DOCUMENT_DELETED:
        return replace(base, deleted=1)
    if message.type == EventType.DOCUMENT_UPDATED:
        return replace(base, updated=1)
    assert isinstance(payload, _WritePayload)  # the schema of DOCUMENT_CREATED
    return replace(base, created=1, ingested_at=payload.document.created_at)


def fold(deltas: Iterable[ProjectionDelta]) -> dict[uuid.UUID, TenantTotals]:
    """Every tenant's totals over the deltas, each event id counted once (the rebuild's sum)."""
    totals: dict[uuid.UUID, TenantTotals] = {}
    seen: set[int] = set()
    for delta in deltas:
        if delta.event_id in seen:
            continue
        seen.add(delta.event_id)
        current = totals.get(delta.tenant_id)
        totals[delta.tenant_id] = TenantTotals.of(delta) if current is None else current.plus(delta)
    return totals


def _latest(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)
