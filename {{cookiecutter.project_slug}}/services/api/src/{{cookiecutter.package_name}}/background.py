"""The app's long-running tasks: the NATS connection, the live-event subscription, the relay,
the ingest sagas' recovery sweep, the document projection's consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from nats.aio.client import Client

from {{ cookiecutter.package_name }}.event_messages import (
    all_tenants_subject,
)
from {{ cookiecutter.package_name }}.ingest_saga_runner import run_saga_recovery
from {{ cookiecutter.package_name }}.projection_consumer import (
    run_projection_consumer,
)
from {{ cookiecutter.package_name }}.redelivery import RedeliveryPolicy
from {{ cookiecutter.package_name }}.relay import run_relay
from {{ cookiecutter.package_name }}.resources import Resources

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def background_tasks(resources: Resources) -> AsyncIterator[None]:
    """Start the tasks for the app's lifetime; cancel and await them at shutdown."""
    settings = resources.settings
    hub = resources.event_hub

    async def subscribe_live_events(client: Client) -> None:
        # One subscription per process, fanned out in-process by the hub.
        await client.subscribe(
            all_tenants_subject(settings.nats_subject_prefix), cb=hub.on_nats_message
        )

    async def resync() -> None:
        hub.resync_all()

    resources.nats.on_connect(subscribe_live_events)
    resources.nats.on_reconnect(resync)
    tasks = [
        asyncio.create_task(resources.nats.run(), name="nats-link"),
        # At startup and then periodically: sagas a crash left unfinished get compensated.
        asyncio.create_task(
            run_saga_recovery(
                resources.sessionmaker,
                interval_seconds=settings.saga_recovery_interval_seconds,
                stale_after_seconds=settings.saga_stale_after_seconds,
            ),
            name="ingest-saga-recovery",
        ),
    ]
    if settings.relay_enabled:
        tasks.append(
            asyncio.create_task(
                run_relay(
                    sessionmaker=resources.sessionmaker,
                    link=resources.nats,
                    subject_prefix=settings.nats_subject_prefix,
                    batch_size=settings.relay_batch_size,
                    interval_seconds=settings.relay_interval_seconds,
                ),
                name="outbox-relay",
            )
        )
    if settings.projection_consumer_enabled:
        tasks.append(
            asyncio.create_task(
                run_projection_consumer(
                    sessionmaker=resources.sessionmaker,
                    link=resources.nats,
                    subject_prefix=settings.nats_subject_prefix,
                    policy=RedeliveryPolicy.from_settings(settings),
                    ack_wait_seconds=settings.consumer_ack_wait_seconds,
                    batch_size=settings.consumer_batch_size,
                ),
                name="projection-consumer",
            )
        )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
