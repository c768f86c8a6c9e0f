"""Example integration tests against real NATS: subjects, JetStream, reconnects.

nats_subject_prefix is unique per test (and per xdist worker), so subscriptions never see
another test's messages. nats-py is asyncio-only; each test runs its coroutine with asyncio.run.
"""

from __future__ import annotations

import asyncio

import nats
from nats.aio.msg import Msg

from testkit import Endpoint
from testkit.chaos.servers import KillableServer


def test_a_subscriber_receives_what_is_published_on_its_subject(
    nats_server: Endpoint, nats_subject_prefix: str
) -> None:
    async def scenario() -> list[bytes]:
        client = await nats.connect(nats_server.url)
        try:
            subscription = await client.subscribe(f"{nats_subject_prefix}.greetings")
            await client.publish(f"{nats_subject_prefix}.greetings", b"hello")
            await client.publish(f"{nats_subject_prefix}.other", b"not for this subscriber")
            message = await subscription.next_msg(timeout=5)
            return [message.data]
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [b"hello"]


def test_a_wildcard_under_the_prefix_sees_only_this_tests_subjects(
    nats_server: Endpoint, nats_subject_prefix: str
) -> None:
    async def scenario() -> list[str]:
        client = await nats.connect(nats_server.url)
        received: list[str] = []
        try:
            subscription = await client.subscribe(f"{nats_subject_prefix}.>")
            for name in ("a", "b.c"):
                await client.publish(f"{nats_subject_prefix}.{name}", name.encode())
            await client.flush()
            for _ in range(2):
                message: Msg = await subscription.next_msg(timeout=5)
                received.append(message.subject.removeprefix(nats_subject_prefix + "."))
            return received
        finally:
            await client.close()

    assert asyncio.run(scenario()) == ["a", "b.c"]


def test_jetstream_keeps_messages_in_order_until_a_consumer_reads_them(
    nats_server: Endpoint, nats_subject_prefix: str
) -> None:
    # Stream names may not contain dots; the prefix makes this stream unique to the test.
    stream = nats_subject_prefix.replace(".", "_").upper()

    async def scenario() -> list[bytes]:
        client = await nats.connect(nats_server.url)
        jetstream = client.jetstream()
        try:
            await jetstream.add_stream(name=stream, subjects=[f"{nats_subject_prefix}.orders.>"])
            for number in range(3):
                ack = await jetstream.publish(
                    f"{nats_subject_prefix}.orders.new", f"{number}".encode()
                )
                assert ack.stream == stream
            consumer = await jetstream.pull_subscribe(
                f"{nats_subject_prefix}.orders.>", durable="reader"
            )
            messages = await consumer.fetch(3, timeout=5)
            for message in messages:
                await message.ack()
            return [message.data for message in messages]
        finally:
            await jetstream.delete_stream(stream)
            await client.close()

    assert asyncio.run(scenario()) == [b"0", b"1", b"2"]


def test_the_client_reconnects_and_resubscribes_after_the_server_restarts(
    ephemeral_nats: KillableServer,
) -> None:
    server = ephemeral_nats

    async def scenario() -> list[bytes]:
        disconnected = asyncio.Event()
        reconnected = asyncio.Event()

        async def on_disconnect() -> None:
            disconnected.set()

        async def on_reconnect() -> None:
            reconnected.set()

        client = await nats.connect(
            server.url,
            reconnect_time_wait=0.2,
            max_reconnect_attempts=-1,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
        )
        try:
            subscription = await client.subscribe("orders")
            await client.publish("orders", b"before")
            received = [(await subscription.next_msg(timeout=5)).data]

            await asyncio.to_thread(server.kill)
            await asyncio.wait_for(disconnected.wait(), timeout=10)
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(reconnected.wait(), timeout=15)

            await client.publish("orders", b"after")
            received.append((await subscription.next_msg(timeout=5)).data)
            return received
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [b"before", b"after"]
