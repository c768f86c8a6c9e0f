"""The document projection's consumer: a durable JetStream pull consumer, explicit acks.

Every app process binds the same durable consumer, so each message goes to one of them.
Per message:
- applied, or already applied (projection.py's dedup by event id) -> ack;
- failed -> redelivery.decide: ``nak(delay)`` with the backoff, or, after the last attempt,
  record it in dead_letters and ``term()`` it (JetStream stops redelivering). A nak'd
  message comes back only after its delay, so the messages behind it keep flowing;
- never acked (the process died, the NATS link broke) -> JetStream redelivers it after
  ``ack_wait``; the dedup makes that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Mapping

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import Error as JetStreamError
from nats.js.errors import NotFoundError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }} import dead_letters, projection
from {{ cookiecutter.package_name }}.dead_letters import FailedMessage, ReplayHandler
from {{ cookiecutter.package_name }}.event_messages import (
    all_tenants_subject,
    stream_name,
)
from {{ cookiecutter.package_name }}.nats_link import NatsLink
from {{ cookiecutter.package_name }}.projection_rules import parse_event
from {{ cookiecutter.package_name }}.redelivery import (
    RedeliveryPolicy,
    backoff_delay,
    classify,
    decide,
)
from {{ cookiecutter.package_name }}.relay import ensure_stream

logger = logging.getLogger(__name__)

CONSUMER_NAME = "document-projection"
FETCH_TIMEOUT_SECONDS = 1.0
PAUSE_SECONDS = 0.5
# After this many empty fetches in a row, check that the durable consumer still exists
# (a stream deleted and recreated takes its consumers with it; fetches then just time out).
IDLE_FETCHES_BEFORE_CHECK = 10


class Handled(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTERED = "dead_lettered"


async def apply_message(session: AsyncSession, data: bytes) -> bool:
    """The consumer's handler (also the replay handler of its dead letters)."""
    return await projection.apply_event(session, parse_event(data))


REPLAY_HANDLERS: Mapping[str, ReplayHandler] = {CONSUMER_NAME: apply_message}


async def subscribe(
    jetstream: JetStreamContext, *, subject_prefix: str, ack_wait_seconds: float
) -> JetStreamContext.PullSubscription:
    """Bind the durable consumer, creating the stream and the consumer when missing."""
    await ensure_stream(jetstream, subject_prefix=subject_prefix)
    return await jetstream.pull_subscribe(
        all_tenants_subject(subject_prefix),
        durable=CONSUMER_NAME,
        stream=stream_name(subject_prefix),
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait_seconds,
            # Unbounded on purpose: the bound is ours (redelivery.decide), and a message
            # JetStream stopped delivering by itself would reach no dead-letter table.
            max_deliver=-1,
        ),
    )


async def handle(
    msg: Msg, *, sessionmaker: async_sessionmaker[AsyncSession], policy: RedeliveryPolicy
) -> Handled:
    """Apply one delivered message, then ack, nak or dead-letter it."""
    try:
        async with sessionmaker() as session, session.begin():
            applied = await apply_message(session, msg.data)
    except Exception as exc:  # whatever the handler raised: decide, never stop consuming
        return await _failed(msg, exc, sessionmaker=sessionmaker, policy=policy)
    await msg.ack()
    return Handled.APPLIED if applied else Handled.DUPLICATE


async def _failed(
    msg: Msg,
    error: Exception,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    policy: RedeliveryPolicy,
) -> Handled:
    metadata = msg.metadata
    attempt = metadata.num_delivered or 1
    decision = decide(attempt=attempt, failure=classify(error), policy=policy)
    sequence = metadata.sequence.stream if metadata.sequence else 0
    if not decision.dead_letter:
        logger.warning(
            "projection consumer: message %d: %s (%s); redelivery in %.1fs",
            sequence,
            dead_letters.describe(error),
            decision.reason,
            decision.delay_seconds,
        )
        await msg.nak(delay=decision.delay_seconds)
        return Handled.RETRY
    failed = FailedMessage(
        consumer=CONSUMER_NAME,
        stream=metadata.stream or "",
        stream_sequence=sequence,
        subject=msg.subject,
        headers=dict(msg.headers or {}),
        data=msg.data,
        error=dead_letters.describe(error),
        attempts=attempt,
    )
    try:
        async with sessionmaker() as session, session.begin():
            await dead_letters.record(session, failed)
    except (SQLAlchemyError, OSError) as exc:
        # Not stored, so not terminated: the next delivery tries the move again.
        logger.warning("projection consumer: dead letter %d not stored: %s", sequence, exc)
        await msg.nak(delay=backoff_delay(attempt, policy))
        return Handled.RETRY
    logger.error(
        "projection consumer: message %d dead-lettered after %d attempts: %s",
        sequence,
        attempt,
        failed.error,
    )
    await msg.term()
    return Handled.DEAD_LETTERED


async def run_projection_consumer(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    link: NatsLink,
    subject_prefix: str,
    policy: RedeliveryPolicy,
    ack_wait_seconds: float,
    batch_size: int,
) -> None:
    """Consume until cancelled; NATS or database trouble pauses it, nothing ends it."""
    subscription: JetStreamContext.PullSubscription | None = None
    idle_fetches = 0
    while True:
        client = link.client
        if client is None:
            # Disconnected: nats-py renews the subscription's interest once it reconnects.
            await asyncio.sleep(PAUSE_SECONDS)
            continue
        try:
            jetstream = client.jetstream()
            if subscription is None:
                subscription = await subscribe(
                    jetstream, subject_prefix=subject_prefix, ack_wait_seconds=ack_wait_seconds
                )
            try:
                messages = await subscription.fetch(batch_size, timeout=FETCH_TIMEOUT_SECONDS)
            except NatsTimeoutError:
                idle_fetches += 1
                if idle_fetches >= IDLE_FETCHES_BEFORE_CHECK:
                    idle_fetches = 0
                    await jetstream.consumer_info(stream_name(subject_prefix), CONSUMER_NAME)
                continue
            idle_fetches = 0
            for msg in messages:
                await handle(msg, sessionmaker=sessionmaker, policy=policy)
        except NotFoundError:
            logger.warning("projection consumer: stream or consumer gone; binding again")
            await _dropped(subscription)
            subscription = None
        except (NatsError, JetStreamError, OSError, TimeoutError) as exc:
            logger.warning("projection consumer: paused: %s", exc)
            await _dropped(subscription)
            subscription = None
            await asyncio.sleep(PAUSE_SECONDS)
        except Exception:
            # A bug, but a consumer that dies leaves the projection stale while the service
            # looks healthy: log it with its traceback and go on, like the relay.
            logger.exception("projection consumer: round failed")
            await _dropped(subscription)
            subscription = None
            await asyncio.sleep(PAUSE_SECONDS)


async def _dropped(subscription: JetStreamContext.PullSubscription | None) -> None:
    """Unsubscribe (best effort: the link may be down) so a re-bind leaves no stale inbox."""
    if subscription is not None:
        with contextlib.suppress(NatsError, OSError, TimeoutError):
            await subscription.unsubscribe()
