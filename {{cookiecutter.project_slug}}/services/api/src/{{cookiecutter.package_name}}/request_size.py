"""A ceiling on request body size, enforced before and while the body is read.

Hand-written: Starlette and uvicorn offer no body-size limit (uvicorn bounds headers only),
and without one a client can make the app buffer any amount of JSON before validation
says no. Bodies that declare a Content-Length over the limit are refused unread; chunked
bodies are counted as they arrive and refused at the byte that crosses the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.status import HTTP_413_CONTENT_TOO_LARGE
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestSizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return f"request body over the {self.max_bytes}-byte limit (APP_MAX_REQUEST_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(self._detail(), scope, receive, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI passes it through its body parsing (other
                    # errors there become a generic 400) to the 413 handler.
                    raise HTTPException(HTTP_413_CONTENT_TOO_LARGE, detail=self._detail())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as exc:
            # Reached only when the app read the body outside FastAPI's handlers.
            if response_started or exc.status_code != HTTP_413_CONTENT_TOO_LARGE:
                raise
            await _refuse(self._detail(), scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"detail": detail}, status_code=HTTP_413_CONTENT_TOO_LARGE)
    await response(scope, receive, send)
