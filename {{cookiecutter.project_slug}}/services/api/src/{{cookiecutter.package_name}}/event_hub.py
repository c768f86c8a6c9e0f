"""In-process fan-out of live events to this process's WebSocket subscribers.

One NATS subscription per process feeds publish(); each subscriber has a bounded queue, and
publish() never waits: a subscriber whose queue is full is marked overflowed (its connection
is then closed) instead of slowing down everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from nats.aio.msg import Msg

from {{ cookiecutter.package_name }}.event_messages import EventMessage

logger = logging.getLogger(__name__)


class _Resync:
    """Queue item: live messages may have been missed; re-read the outbox table."""


RESYNC: Final = _Resync()


class Subscriber:
    def __init__(self, tenant_id: uuid.UUID, *, queue_size: int) -> None:
        self.tenant_id = tenant_id
        self.queue_size = queue_size
        self.queue: asyncio.Queue[EventMessage | _Resync] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = asyncio.Event()

    def offer(self, item: EventMessage | _Resync) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed.set()


class EventHub:
    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[Subscriber]] = {}

    @contextmanager
    def subscribe(self, tenant_id: uuid.UUID, *, queue_size: int) -> Iterator[Subscriber]:
        subscriber = Subscriber(tenant_id, queue_size=queue_size)
        self._subscribers.setdefault(tenant_id, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            tenant_subscribers = self._subscribers[tenant_id]
            tenant_subscribers.discard(subscriber)
            if not tenant_subscribers:
                del self._subscribers[tenant_id]

    def publish(self, message: EventMessage) -> None:
        # The tenant comes from the message body the relay wrote from the outbox row, so
        # a message can only ever reach its own tenant's subscribers.
        for subscriber in tuple(self._subscribers.get(message.tenant_id, ())):
            subscriber.offer(message)

    def resync_all(self) -> None:
        for subscribers in tuple(self._subscribers.values()):
            for subscriber in tuple(subscribers):
                subscriber.offer(RESYNC)

    async def on_nats_message(self, msg: Msg) -> None:
        """The NATS subscription callback."""
        try:
            message = EventMessage.from_json(msg.data)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("event hub: dropped a malformed message on %s: %s", msg.subject, exc)
            return
        self.publish(message)
