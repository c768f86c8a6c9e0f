"""Fan-out of live messages to subscribers, each behind a bounded queue: the realtime example.

publish() never waits. A subscriber whose queue is full is marked overflowed and gets nothing
more (a real server then closes its connection and the client resyncs), so one slow consumer
cannot hold up the others or grow memory without bound. relay_notifications() feeds a FanOut
from PostgreSQL LISTEN/NOTIFY, a broker every project with Postgres already has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql


class Subscriber:
    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = False

    def offer(self, message: str) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True


class FanOut:
    def __init__(self, *, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be a positive integer, got {queue_size!r}")
        self.queue_size = queue_size
        self._subscribers: set[Subscriber] = set()

    @contextmanager
    def subscribe(self) -> Iterator[Subscriber]:
        subscriber = Subscriber(self.queue_size)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, message: str) -> None:
        for subscriber in tuple(self._subscribers):
            subscriber.offer(message)


async def relay_notifications(
    url: str,
    channel: str,
    fanout: FanOut,
    *,
    listening: asyncio.Event,
    stop_after: int,
) -> int:
    """LISTEN on ``channel`` and publish each payload to ``fanout``; returns how many were relayed.

    Sets ``listening`` once LISTEN is in effect (notifications sent earlier are not delivered).
    Stops after ``stop_after`` notifications; callers bound the wait (asyncio.timeout).
    """
    relayed = 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        listening.set()
        async for notification in connection.notifies(stop_after=stop_after):
            fanout.publish(notification.payload)
            relayed += 1
    return relayed
