"""A tiny notes API in plain ASGI: what the e2e examples start with testkit.server.run_uvicorn.

No web framework on purpose: a bake without the sample service installs none, and the point
of the example is the real process around the app (uvicorn's HTTP parsing, the lifespan,
SIGTERM), not the app. Replace it with your service's ``module:factory``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_NOTE_CHARS = 500
BAD_NOTE_DETAIL = 'body must be JSON like {"text": "..."}, ' + f"1 to {MAX_NOTE_CHARS} characters"
# Printed when the lifespan ends: the e2e example proves SIGTERM shut the app down cleanly.
STOPPED_LINE = "example app: lifespan shutdown complete"


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _respond(send: Send, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _note_text(raw: bytes) -> str | None:
    """The note's text from a JSON body ``{"text": "..."}``, or None when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_CHARS:
        return None
    return text


def create_app() -> ASGIApp:
    """The factory uvicorn calls (``--factory``): a fresh, empty store per process."""
    notes: dict[int, str] = {}

    async def lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                print(STOPPED_LINE, file=sys.stderr, flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        body = await _read_body(receive)
        if (method, path) == ("GET", "/healthz"):
            await _respond(send, 200, {"status": "ok"})
        elif (method, path) == ("GET", "/notes"):
            await _respond(send, 200, {"items": [{"id": i, "text": t} for i, t in notes.items()]})
        elif (method, path) == ("POST", "/notes"):
            text = _note_text(body)
            if text is None:
                await _respond(send, 422, {"detail": BAD_NOTE_DETAIL})
                return
            note_id = len(notes) + 1
            notes[note_id] = text
            await _respond(send, 201, {"id": note_id, "text": text})
        elif method == "GET" and path.startswith("/notes/"):
            raw_id = path.removeprefix("/notes/")
            note_id = int(raw_id) if raw_id.isdigit() else 0
            if note_id in notes:
                await _respond(send, 200, {"id": note_id, "text": notes[note_id]})
            else:
                await _respond(send, 404, {"detail": f"no note {raw_id!r}"})
        else:
            await _respond(send, 404, {"detail": f"no route {method} {path}"})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
        elif scope["type"] == "http":
            await http(scope, receive, send)
        else:
            raise RuntimeError(f"example app serves http and lifespan only, got {scope['type']!r}")

    return app
