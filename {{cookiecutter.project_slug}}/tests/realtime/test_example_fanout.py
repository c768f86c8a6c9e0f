"""Example realtime tests: fan-out with bounded queues, over asyncio and real PostgreSQL NOTIFY.

No async pytest plugin is needed: each test drives its scenario with asyncio.run().
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from realtime.example_fanout import FanOut, Subscriber, relay_notifications

MESSAGES = [f"m{i}" for i in range(20)]


async def _drain(subscriber: Subscriber, count: int) -> list[str]:
    return [await subscriber.queue.get() for _ in range(count)]


def test_a_slow_consumer_overflows_alone_while_the_others_get_everything_in_order() -> None:
    async def scenario() -> tuple[list[list[str]], Subscriber]:
        fanout = FanOut(queue_size=4)
        with fanout.subscribe() as fast_a, fanout.subscribe() as fast_b, fanout.subscribe() as slow:
            readers = [asyncio.create_task(_drain(s, len(MESSAGES))) for s in (fast_a, fast_b)]
            for message in MESSAGES:
                fanout.publish(message)  # synchronous: it cannot wait for anyone
                await asyncio.sleep(0)  # lets the readers run, as real traffic would
            received = await asyncio.wait_for(asyncio.gather(*readers), timeout=5.0)
        return received, slow

    received, slow = asyncio.run(scenario())

    assert received == [MESSAGES, MESSAGES]
    assert slow.overflowed
    # The slow consumer holds exactly what fitted before it overflowed, nothing newer.
    assert [slow.queue.get_nowait() for _ in range(slow.queue.qsize())] == MESSAGES[:4]


def test_a_subscriber_that_left_receives_nothing_more() -> None:
    fanout = FanOut(queue_size=2)
    with fanout.subscribe() as gone:
        fanout.publish("before")
    fanout.publish("after")

    assert fanout.subscriber_count == 0
    assert gone.queue.qsize() == 1
    assert gone.queue.get_nowait() == "before"


def test_a_queue_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="queue_size must be a positive integer, got 0"):
        FanOut(queue_size=0)


def test_postgres_notifications_reach_every_subscriber_in_order_and_only_on_their_channel(
    postgres_database: str,
) -> None:
    channel = f"events_{uuid.uuid4().hex[:12]}"
    payloads = [f"event {i}" for i in range(5)]

    async def scenario() -> tuple[int, list[list[str]]]:
        fanout = FanOut(queue_size=len(payloads))
        listening = asyncio.Event()
        with fanout.subscribe() as first, fanout.subscribe() as second:
            relay = asyncio.create_task(
                relay_notifications(
                    postgres_database,
                    channel,
                    fanout,
                    listening=listening,
                    stop_after=len(payloads),
                )
            )
            await asyncio.wait_for(listening.wait(), timeout=10.0)
            async with await psycopg.AsyncConnection.connect(
                postgres_database, autocommit=True
            ) as publisher:
                await publisher.execute("SELECT pg_notify(%s, 'noise')", (channel + "_other",))
                for payload in payloads:
                    await publisher.execute("SELECT pg_notify(%s, %s)", (channel, payload))
            relayed = await asyncio.wait_for(relay, timeout=10.0)
            received = [await _drain(s, s.queue.qsize()) for s in (first, second)]
        return relayed, received

    relayed, received = asyncio.run(scenario())

    assert relayed == len(payloads)
    assert received == [payloads, payloads]
