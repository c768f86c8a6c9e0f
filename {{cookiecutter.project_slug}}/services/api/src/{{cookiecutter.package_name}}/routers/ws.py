"""WebSocket /ws: a tenant's document events, live, with resume from a last-seen event id.

Design: the outbox table is the tenant's ordered event log and NATS is the doorbell. Each
connection keeps a cursor (the last event id it sent). It joins the process's in-process hub
(fed by one NATS subscription) *before* reading the table, so an event committed after that
read still arrives live: the table read covers the past, the hub the rest, and the cursor
drops what both delivered. A live event is sent straight away only when its previous_id is the
cursor (nothing in between); otherwise, e.g. two relays published out of order or NATS
dropped messages while reconnecting, the missing range is read from the table, in id order.
So ordering and resume hold whatever NATS does, and NATS still spares the database a poll
per connection. Ids of one tenant commit in order (outbox.record_event), so "after <id>"
never skips an event that commits late.

Close codes: 4401 missing/invalid/revoked key; 1013 (try again later) when the client reads
too slowly and its queue overflowed; reconnect with ?after=<last id> to resume without loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from {{ cookiecutter.package_name }} import outbox
from {{ cookiecutter.package_name }}.crud import api_keys
from {{ cookiecutter.package_name }}.event_hub import Subscriber
from {{ cookiecutter.package_name }}.event_messages import EventMessage
from {{ cookiecutter.package_name }}.resources import Resources

logger = logging.getLogger(__name__)

router = APIRouter(tags=["realtime"])

CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 1013
BACKLOG_PAGE_SIZE = 500


@router.websocket("/ws")
async def events(
    websocket: WebSocket,
    after: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
    api_key: Annotated[str | None, Query(max_length=200)] = None,
) -> None:
    """Streams the caller's document events as JSON text frames, oldest first."""
    resources: Resources = websocket.app.state.resources
    presented = websocket.headers.get("x-api-key") or api_key
    await websocket.accept()
    tenant_id = await _authenticate(resources, presented)
    if tenant_id is None:
        await websocket.close(
            CLOSE_UNAUTHORIZED,
            reason="missing, invalid or revoked API key: send X-API-Key or ?api_key=",
        )
        return
    with resources.event_hub.subscribe(
        tenant_id, queue_size=resources.settings.ws_queue_size
    ) as subscriber:
        stream = _Stream(websocket, resources, subscriber)
        sender = asyncio.create_task(stream.run(after))
        reader = asyncio.create_task(_until_client_leaves(websocket))
        overflow = asyncio.create_task(subscriber.overflowed.wait())
        try:
            await asyncio.wait({sender, reader, overflow}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, reader, overflow):
                task.cancel()
            await asyncio.gather(sender, reader, overflow, return_exceptions=True)
        failure = sender.exception() if sender.done() and not sender.cancelled() else None
        if failure is not None and not isinstance(failure, WebSocketDisconnect | OSError):
            raise failure
        if subscriber.overflowed.is_set():
            logger.warning("ws: closing a subscriber of tenant %s: queue overflowed", tenant_id)
            await _close_quietly(
                websocket,
                CLOSE_TOO_SLOW,
                f"too slow: over {subscriber.queue_size} events queued; "
                f"reconnect with ?after={stream.cursor}",
            )


async def _authenticate(resources: Resources, presented: str | None) -> uuid.UUID | None:
    if not presented:
        return None
    async with resources.sessionmaker() as session:
        row = await api_keys.authenticate(
            session,
            presented=presented,
            pepper=resources.settings.api_key_pepper.get_secret_value(),
        )
    return None if row is None else row.tenant_id


async def _until_client_leaves(websocket: WebSocket) -> None:
    # The protocol is server-to-client; reading is how a client's close is noticed.
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state is WebSocketState.CONNECTED:
        # The client may be gone already; there is nobody left to tell.
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(code, reason=reason[:120])


class _Stream:
    def __init__(self, websocket: WebSocket, resources: Resources, subscriber: Subscriber) -> None:
        self.websocket = websocket
        self.resources = resources
        self.subscriber = subscriber
        self.cursor = 0

    async def run(self, after: int | None) -> None:
        if after is None:
            # Live only: start from the newest event, so the next one's previous_id matches.
            async with self.resources.sessionmaker() as session:
                self.cursor = await outbox.latest_event_id(
                    session, tenant_id=self.subscriber.tenant_id
                )
        else:
            self.cursor = after
            await self._send_from_table(up_to=None)
        while True:
            item = await self.subscriber.queue.get()
            if not isinstance(item, EventMessage):
                await self._send_from_table(up_to=None)  # resync after a NATS reconnect
            elif item.id <= self.cursor:
                continue  # already sent (from the table, or a redelivery)
            elif (item.previous_id or 0) == self.cursor:
                await self._send(item)
            else:
                await self._send_from_table(up_to=item.id)

    async def _send_from_table(self, *, up_to: int | None) -> None:
        while True:
            async with self.resources.sessionmaker() as session:
                rows = await outbox.events_after(
                    session,
                    tenant_id=self.subscriber.tenant_id,
                    after=self.cursor,
                    limit=BACKLOG_PAGE_SIZE,
                    up_to=up_to,
                )
            for row in rows:
                await self._send(EventMessage.from_row(row))
            if len(rows) < BACKLOG_PAGE_SIZE:
                return

    async def _send(self, message: EventMessage) -> None:
        await self.websocket.send_text(message.to_json())
        self.cursor = message.id
