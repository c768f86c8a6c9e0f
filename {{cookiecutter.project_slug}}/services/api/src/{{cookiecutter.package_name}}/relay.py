"""The outbox relay: publishes committed outbox events to NATS JetStream, oldest first.

At least once: an event is marked sent only after JetStream acknowledged it; if the relay
dies in between, it is published again, with the same Nats-Msg-Id, so JetStream's duplicate
window drops it, and consumers deduplicate by event id beyond that window
(event_messages.SeenEvents). While NATS is down nothing is marked, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }} import outbox
from {{ cookiecutter.package_name }}.event_messages import (
    MSG_ID_HEADER,
    EventMessage,
    all_tenants_subject,
    stream_name,
    tenant_subject,
)
from {{ cookiecutter.package_name }}.nats_link import NatsLink

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 2.0
DUPLICATE_WINDOW_SECONDS = 120.0


async def ensure_stream(jetstream: JetStreamContext, *, subject_prefix: str) -> None:
    """Create the stream for the prefix's document events (a no-op when it exists as is)."""
    await jetstream.add_stream(
        name=stream_name(subject_prefix),
        subjects=[all_tenants_subject(subject_prefix)],
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


async def relay_once(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    subject_prefix: str,
    batch_size: int,
) -> int:
    """Publish up to ``batch_size`` unpublished events in id order; return how many went out.

    Stops at the first failed publish, so events never overtake an earlier one of this
    batch; what was acknowledged before the failure is still marked sent.
    """
    async with sessionmaker() as session, session.begin():
        events = await outbox.fetch_unpublished(session, limit=batch_size)
        sent: list[int] = []
        try:
            for event in events:
                await jetstream.publish(
                    tenant_subject(subject_prefix, event.tenant_id),
                    EventMessage.from_row(event).to_json().encode(),
                    timeout=PUBLISH_TIMEOUT_SECONDS,
                    headers={MSG_ID_HEADER: str(event.id)},
                )
                sent.append(event.id)
        finally:
            await outbox.mark_sent(session, event_ids=sent)
    return len(sent)


async def run_relay(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    link: NatsLink,
    subject_prefix: str,
    batch_size: int,
    interval_seconds: float,
) -> None:
    """Relay until cancelled: a full batch goes straight on, otherwise wait one interval.

    No error ends the loop; only cancellation does (asyncio.CancelledError is not an Exception).
    """
    stream_ready = False
    while True:
        published = 0
        client = link.client
        if client is not None:
            jetstream = client.jetstream()
            try:
                if not stream_ready:
                    await ensure_stream(jetstream, subject_prefix=subject_prefix)
                    stream_ready = True
                published = await relay_once(
                    sessionmaker=sessionmaker,
                    jetstream=jetstream,
                    subject_prefix=subject_prefix,
                    batch_size=batch_size,
                )
            except (NatsError, JetStreamError, OSError, TimeoutError) as exc:
                # NATS went away mid-batch: the rest stays in the outbox for the next round.
                logger.warning("relay: publishing paused: %s", exc)
                stream_ready = False
            except SQLAlchemyError as exc:
                logger.warning("relay: outbox unavailable: %s", exc)
            except Exception:
                # Anything else is a bug, but a relay that dies strands every later event
                # while the service looks healthy: log it with its traceback, go on.
                logger.exception("relay: round failed")
                stream_ready = False
        if published < batch_size:
            await asyncio.sleep(interval_seconds)
