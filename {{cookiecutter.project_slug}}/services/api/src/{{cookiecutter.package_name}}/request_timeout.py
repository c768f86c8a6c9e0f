"""A deadline on every HTTP request: past it the client gets a 503, never an endless wait.

Database timeouts alone do not bound a request. statement_timeout runs on the server, so it
cannot fire when the network to the server blackholes (the query never arrives, or its
answer never comes back), and a cancelled psycopg query first tries to cancel on the server
(through the same dead network) for up to ten seconds. So the app runs as a task: when the
deadline passes before the response started, the task is cancelled and left to clean up in
the background while the client gets 503 with Retry-After at once. A response that already
started is let finish. WebSockets are not bounded (they are meant to stay open).

Hand-written, in the style of request_size.py: Starlette and uvicorn offer no request timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from starlette.responses import JSONResponse
from starlette.status import HTTP_503_SERVICE_UNAVAILABLE
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# Cancelled requests still cleaning up; referenced so the loop does not collect them.
_abandoned: set[asyncio.Task[Any]] = set()


async def within(work: Coroutine[Any, Any, object], *, seconds: float) -> None:
    """Run ``work`` (re-raising its error), or TimeoutError after ``seconds`` without waiting
    for its cleanup.

    asyncio.timeout would wait until the cancelled work has finished cleaning up, which on a
    blackholed connection takes as long as the cleanup's own timeouts.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task not in done:
        _abandon(task)
        raise TimeoutError(f"no result within {seconds}s")
    task.result()


def _abandon(task: asyncio.Task[Any]) -> None:
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.debug("abandoned request ended with %r", task.exception())


class RequestTimeoutMiddleware:
    def __init__(self, app: ASGIApp, *, timeout_seconds: float) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:  # the client already has its 503
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout_seconds)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in done or started:
            await task  # finished (re-raises its error), or let a started response complete
            return
        abandoned = True
        _abandon(task)
        logger.warning(
            "%s %s exceeded APP_REQUEST_TIMEOUT_SECONDS=%s; answered 503",
            scope.get("method"),
            scope.get("path"),
            self.timeout_seconds,
        )
        response = JSONResponse(
            {"detail": "request timed out, retry shortly"},
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
        await response(scope, receive, send)
