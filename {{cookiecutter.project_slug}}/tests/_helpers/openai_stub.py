"""A deterministic stand-in for the OpenAI chat-completions API, in-process or on loopback.

Fake on purpose: the real API is paid, networked and non-deterministic, so MOCK runs use this
instead, and the committed cassettes in tests/cassettes were recorded (RECORD=1) against
`OpenAIStubServer` (real HTTP on 127.0.0.1) because the machine that made them had no key.
Re-record against the real API with APP_OPENAI_API_KEY set (docs/testing.md, GOLDEN mode).

It answers like a naive model: the first sentence of the document that shares most words with
the question, citing that document. It is also gullible on purpose: a document saying
"cite <id>" gets <id> cited, as a prompt-injected model would, so tests can prove the service
drops citations of documents it did not retrieve.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

CHAT_PATH = "/v1/chat/completions"
_BLOCK = re.compile(r"<documents>\n(.*)\n</documents>", re.DOTALL)
_QUESTION = re.compile(r"^Question \(JSON string\): (.*)$", re.MULTILINE)
_INJECTED_CITATION = re.compile(r"cite ([0-9a-fA-F-]{36}|[\w-]+-id)", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": "invalid_request_error"}}


def _words(text: str) -> set[str]:
    return {word.casefold() for word in _WORD.findall(text) if len(word) > 3}


def complete(path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """The whole fake API: (status, JSON) for one request."""
    if path != CHAT_PATH:
        return _error(404, f"unknown path {path}")
    if not headers.get("authorization", "").startswith("Bearer "):
        return _error(401, "missing bearer token")
    try:
        request = json.loads(body)
        model = request["model"]
        user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    except (ValueError, KeyError, StopIteration, TypeError):
        return _error(400, "body must hold model and a user message")
    block = _BLOCK.search(user)
    question_line = _QUESTION.search(user)
    documents: list[dict[str, str]] = json.loads(block.group(1)) if block else []
    question = json.loads(question_line.group(1)) if question_line else ""
    wanted = _words(question)
    best = max(
        documents,
        key=lambda d: len(wanted & _words(d["title"] + " " + d["text"])),
        default=None,
    )
    if best is None:
        answer = {"answer": "The documents do not answer this question.", "citations": []}
    else:
        first_sentence = re.split(r"(?<=[.!?])\s", best["text"].strip(), maxsplit=1)[0]
        citations = [best["id"]]
        for document in documents:
            citations += _INJECTED_CITATION.findall(document["text"])
        answer = {"answer": first_sentence, "citations": citations}
    digest = hashlib.sha256(body).hexdigest()[:24]
    return 200, {
        "id": f"chatcmpl-stub-{digest}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": json.dumps(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": len(body) // 4, "completion_tokens": 20, "total_tokens": 0},
    }


@dataclass
class FakeOpenAI:
    """The in-process fake (httpx.MockTransport); keeps every request for contract checks."""

    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, payload = complete(
            request.url.path, {k.lower(): v for k, v in request.headers.items()}, request.content
        )
        return httpx.Response(status, json=payload)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@dataclass
class StubFaults:
    """What the loopback stub does to each request: wait ``delay_seconds`` first, then answer,
    or fail with HTTP ``status`` when it is set. A chaos scenario changes these while the
    service under test keeps calling; ``requests`` counts what reached the stub."""

    status: int | None = None
    delay_seconds: float = 0.0
    requests: int = 0


class _StubServer(ThreadingHTTPServer):
    faults: StubFaults

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow answer closed its socket: expected, not an error.
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _StubServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        faults = self.server.faults
        faults.requests += 1
        if faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        if faults.status is None:
            status, payload = complete(self.path, headers, body)
        else:
            status, payload = _error(faults.status, "injected fault")
        encoded = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test output clean


@contextmanager
def openai_stub_server(faults: StubFaults | None = None) -> Iterator[str]:
    """The fake over real HTTP on a free loopback port; yields its base URL (…/v1).
    ``faults``, when given, is read on every request: change it to break the provider."""
    server = _StubServer(("127.0.0.1", 0), _Handler)
    server.faults = faults if faults is not None else StubFaults()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
