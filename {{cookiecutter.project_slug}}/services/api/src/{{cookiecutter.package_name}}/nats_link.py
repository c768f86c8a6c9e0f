"""The app's one NATS connection, opened in the background and re-opened for as long as it runs.

The service must start and serve while NATS is down (events wait in the outbox), so nothing
here blocks startup: the connection is made by run(), retried forever by nats-py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError

logger = logging.getLogger(__name__)

ConnectHook = Callable[[Client], Awaitable[None]]

RECONNECT_WAIT_SECONDS = 0.5
CONNECT_TIMEOUT_SECONDS = 2


class NatsLink:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client = Client()
        self._on_connect: list[ConnectHook] = []
        self._on_reconnect: list[Callable[[], Awaitable[None]]] = []
        self._connected_once = False

    def on_connect(self, hook: ConnectHook) -> None:
        """Run ``hook`` once the first connection is up (subscriptions survive reconnects)."""
        self._on_connect.append(hook)

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after each reconnect: messages sent meanwhile were not received."""
        self._on_reconnect.append(hook)

    @property
    def client(self) -> Client | None:
        """The client while connected, else None (callers skip their NATS work)."""
        return self._client if self._client.is_connected else None

    async def run(self) -> None:
        """Connect (retrying until it works), then run the connect hooks."""
        await self._client.connect(
            self.url,
            max_reconnect_attempts=-1,
            reconnect_time_wait=RECONNECT_WAIT_SECONDS,  # type: ignore[arg-type]
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        self._connected_once = True
        logger.info("nats: connected to %s", self._client.connected_url)
        for hook in self._on_connect:
            await hook(self._client)

    async def aclose(self) -> None:
        # nats-py's close() needs a client that connected at least once.
        if self._connected_once and not self._client.is_closed:
            try:
                await self._client.close()
            except (NatsError, OSError, TimeoutError) as exc:
                logger.warning("nats: close failed: %s", exc)

    async def _on_error(self, exc: Exception) -> None:
        # Called for every failed attempt while NATS is down; the state changes are logged
        # at warning level (below), so the repeats stay at debug.
        logger.debug("nats: %s", exc)

    async def _on_disconnected(self) -> None:
        logger.warning("nats: disconnected; events wait in the outbox until it is back")

    async def _on_reconnected(self) -> None:
        logger.warning("nats: reconnected to %s", self._client.connected_url)
        for hook in self._on_reconnect:
            await hook()


async def probe(url: str, *, within_seconds: float) -> bool:
    """Whether a NATS server at ``url`` answers a round trip now (for /readyz)."""
    try:
        async with asyncio.timeout(within_seconds):
            client = await nats.connect(
                url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=1
            )
            try:
                await client.flush(timeout=1)
            finally:
                await client.close()
    except (NatsError, OSError, TimeoutError) as exc:
        logger.warning("readiness: nats check failed: %s", exc)
        return False
    return True
