"""The chaos soak's steady load: writers, URL ingests, searchers and WebSocket subscribers on
threads.

Writers send documents with an Idempotency-Key and keep every key they were refused, so the
soak can retry them afterwards and prove each is created exactly once; ingesters run URL
ingests (a saga each) and keep the documents acknowledged; subscribers follow the
tenant's events and resume with ?after= after every disconnect, as a real client would. Every
request is counted by route and outcome class (a status code, or the exception's name).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from _fixtures.chaos import Tenant, write_document

WS_RECEIVE_SECONDS = 0.5
WS_OPEN_SECONDS = 3.0


@dataclass
class LoadRecord:
    """What the load did; threads add to it under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    acknowledged: dict[str, str] = field(default_factory=dict)  # idempotency key -> document id
    refused: set[str] = field(default_factory=set)  # keys never acknowledged (yet)
    ingested: set[str] = field(default_factory=set)  # document ids of acknowledged URL ingests

    def count(self, route: str, outcome: str) -> None:
        with self.lock:
            self.requests[route] += 1
            self.outcomes[(route, outcome)] += 1


def outcome_of(send: Callable[[], httpx.Response]) -> tuple[httpx.Response | None, str]:
    try:
        response = send()
    except httpx.HTTPError as error:
        return None, type(error).__name__
    return response, str(response.status_code)


def write_once(client: httpx.Client, tenant: Tenant, key: str, record: LoadRecord) -> bool:
    """One attempt at the document `key`; True once it is acknowledged (201)."""
    response, outcome = outcome_of(lambda: write_document(client, tenant, key, key=key))
    record.count("POST /documents", outcome)
    with record.lock:
        if response is not None and response.status_code == 201:
            record.acknowledged[key] = response.json()["id"]
            record.refused.discard(key)
            return True
        record.refused.add(key)
    return False


def writer(
    client: httpx.Client, tenant: Tenant, name: str, record: LoadRecord, stop: threading.Event
) -> None:
    number = 0
    while not stop.is_set():
        write_once(client, tenant, f"soak-{name}-{number}", record)
        number += 1


def ingester(
    client: httpx.Client, tenant: Tenant, url: str, record: LoadRecord, stop: threading.Event
) -> None:
    """URL ingests of one page, each a saga (fetch, store, index, publish)."""
    while not stop.is_set():
        response, outcome = outcome_of(
            lambda: client.post("/documents/ingest", json={"url": url}, headers=tenant.headers)
        )
        record.count("POST /documents/ingest", outcome)
        if response is not None and response.status_code == 201:
            with record.lock:
                record.ingested.add(response.json()["id"])


def searcher(
    client: httpx.Client, tenant: Tenant, record: LoadRecord, stop: threading.Event
) -> None:
    while not stop.is_set():
        for route, send in (
            (
                "GET /search",
                lambda: client.get("/search", params={"q": "soak"}, headers=tenant.headers),
            ),
            ("GET /documents", lambda: client.get("/documents", headers=tenant.headers)),
        ):
            record.count(route, outcome_of(send)[1])


@dataclass
class Subscriber:
    """A WebSocket client of one tenant's events that resumes after the last id it saw."""

    url: str
    headers: dict[str, str]
    record: LoadRecord
    seen: list[int] = field(default_factory=list)  # event ids in arrival order, repeats kept
    document_ids: set[str] = field(default_factory=set)

    @property
    def cursor(self) -> int:
        return max(self.seen, default=0)

    def follow(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.session(stop.is_set)
            stop.wait(0.2)  # a refused connection is retried, not hammered

    def catch_up(self, expected: set[str], *, timeout: float) -> None:
        """Reconnect from the cursor until every expected document was seen, or `timeout`."""
        deadline = time.monotonic() + timeout

        def done() -> bool:
            return expected <= self.document_ids or time.monotonic() > deadline

        while not done():
            self.session(done)

    def session(self, until: Callable[[], bool]) -> None:
        """One connection from the cursor until it drops or `until()` is true."""
        try:
            with connect(
                f"{self.url}?after={self.cursor}",
                additional_headers=self.headers,
                open_timeout=WS_OPEN_SECONDS,
            ) as connection:
                self.record.count("WS /ws", "connected")
                while not until():
                    self._receive(connection)
        except (OSError, WebSocketException) as error:
            self.record.count("WS /ws", type(error).__name__)

    def _receive(self, connection: ClientConnection) -> None:
        try:
            frame = connection.recv(timeout=WS_RECEIVE_SECONDS)
        except TimeoutError:
            return
        event = json.loads(frame)
        self.seen.append(int(event["id"]))
        if event["type"] == "document.created":
            self.document_ids.add(str(event["payload"]["document"]["id"]))
