"""What goes over NATS and the WebSocket: one JSON object per outbox event.

Pure (no I/O): the wire format, the subject naming and the consumers' deduplication.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from {{ cookiecutter.package_name }}.models import OutboxEvent

# JetStream drops a message whose Nats-Msg-Id it saw within the stream's duplicate window,
# so a relay that crashed between publish and mark_sent does not publish the event twice.
MSG_ID_HEADER = "Nats-Msg-Id"


@dataclass(frozen=True, slots=True)
class EventMessage:
    id: int
    previous_id: int | None
    tenant_id: uuid.UUID
    type: str
    created_at: datetime
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: OutboxEvent) -> EventMessage:
        return cls(
            id=row.id,
            previous_id=row.previous_id,
            tenant_id=row.tenant_id,
            type=row.event_type,
            created_at=row.created_at,
            payload=row.payload,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "previous_id": self.previous_id,
                "tenant_id": str(self.tenant_id),
                "type": self.type,
                "created_at": self.created_at.isoformat(),
                "payload": self.payload,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> EventMessage:
        data = json.loads(raw)
        return cls(
            id=int(data["id"]),
            previous_id=None if data["previous_id"] is None else int(data["previous_id"]),
            tenant_id=uuid.UUID(data["tenant_id"]),
            type=str(data["type"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            payload=dict(data["payload"]),
        )


def tenant_subject(prefix: str, tenant_id: uuid.UUID) -> str:
    return f"{prefix}.tenant.{tenant_id}.documents"


def all_tenants_subject(prefix: str) -> str:
    return f"{prefix}.tenant.*.documents"


def stream_name(prefix: str) -> str:
    # Stream names may not contain dots (or spaces, *, >); the prefix's dots become _.
    return prefix.replace(".", "_").upper() + "_DOCUMENT_EVENTS"


class SeenEvents:
    """Consumer-side deduplication by event id, over the last ``capacity`` ids.

    Delivery is at least once (a relay may crash after publishing, before mark_sent), so a
    subscriber keeps what it has handled. Hand-written: an insertion-ordered dict is the whole
    LRU, and no library earns a dependency for it.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._seen: OrderedDict[int, None] = OrderedDict()

    def first_time(self, event_id: int) -> bool:
        """True the first time an id is offered (remember it), False for a repeat."""
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return False
        self._seen[event_id] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True
