"""The chaos scenarios' harness: the service as a real uvicorn process, pointed at whichever
Postgres / Redis / NATS a scenario hands it (shared, killable, or behind the fault proxy).

A scenario breaks a dependency, so it must own it: each one gets a scratch database (on the
shared server or a killable one), its own Redis key prefix and its own NATS subject prefix,
and starts its own service process with ``chaos_service(...)``. Every wait is bounded by a
deadline that exists only to turn a hang into a failure naming what never happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from _fixtures.service import (
    ADMIN_HEADERS,
    PROJECT_ROOT,
    SERVICE_APP,
    TEST_ADMIN_TOKEN,
    TEST_API_KEY_PEPPER,
    delete_event_streams,
    migrated_scratch_database,
)
from testkit import isolation
from testkit.infra import Endpoint
from testkit.server import RunningServer, run_uvicorn

from {{ cookiecutter.package_name }}.event_messages import (
    EventMessage,
    SeenEvents,
    all_tenants_subject,
    stream_name,
)
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

# Hang detectors, not performance bounds: generous, and only ever hit when something hangs.
REQUEST_DEADLINE_SECONDS = 15.0
RECOVERY_DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Dependencies:
    """The URLs a service process is pointed at (a scenario swaps one for a broken one)."""

    database_url: str
    redis_url: str
    nats_url: str
    redis_prefix: str
    subject_prefix: str


@dataclass(frozen=True, slots=True)
class Tenant:
    id: uuid.UUID
    headers: dict[str, str]


ServiceStarter = Callable[..., contextlib.AbstractContextManager[RunningServer]]


@pytest.fixture
def chaos_dependencies(
    postgres_server: Endpoint, redis_server: Endpoint, nats_server: Endpoint
) -> Iterator[Dependencies]:
    """A migrated scratch database on the shared Postgres, plus a Redis and NATS prefix of this
    test's own; scenarios replace the URL of the dependency they break."""
    redis_prefix = isolation.unique_name("chaos", separator=":") + ":"
    subject_prefix = isolation.unique_name("chaos", separator=".")
    try:
        with migrated_scratch_database(postgres_server.url) as database_url:
            yield Dependencies(
                database_url, redis_server.url, nats_server.url, redis_prefix, subject_prefix
            )
    finally:
        isolation.delete_redis_keys(redis_server.url, redis_prefix)
        delete_event_streams(nats_server.url, [subject_prefix])


def service_env(dependencies: Dependencies, **overrides: str) -> dict[str, str]:
    """APP_* for a service process; ``overrides`` by field name, e.g. DB_POOL_SIZE="2"."""
    return {
        f"{ENV_PREFIX}ENV": "test",
        f"{ENV_PREFIX}DATABASE_URL": dependencies.database_url,
        f"{ENV_PREFIX}REDIS_URL": dependencies.redis_url,
        f"{ENV_PREFIX}REDIS_KEY_PREFIX": dependencies.redis_prefix,
        f"{ENV_PREFIX}NATS_URL": dependencies.nats_url,
        f"{ENV_PREFIX}NATS_SUBJECT_PREFIX": dependencies.subject_prefix,
        f"{ENV_PREFIX}ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        f"{ENV_PREFIX}API_KEY_PEPPER": TEST_API_KEY_PEPPER,
        f"{ENV_PREFIX}RATE_LIMIT_PER_MINUTE": "100000",
        f"{ENV_PREFIX}RELAY_INTERVAL_SECONDS": "0.2",
        **{f"{ENV_PREFIX}{name.upper()}": value for name, value in overrides.items()},
    }


@pytest.fixture
def chaos_service(tmp_path: Path) -> ServiceStarter:
    """``with chaos_service(dependencies, DB_POOL_SIZE="2") as server:`` a uvicorn process.

    Ready once /healthz answers (not /readyz: a scenario may start it with a dependency down).
    """
    counter = iter(range(1_000_000))

    def start(
        dependencies: Dependencies, *, uvicorn_args: tuple[str, ...] = (), **overrides: str
    ) -> contextlib.AbstractContextManager[RunningServer]:
        log_path = tmp_path / f"uvicorn-{next(counter)}.log"
        return run_uvicorn(
            SERVICE_APP,
            log_path=log_path,
            env=service_env(dependencies, **overrides),
            drop_env_prefixes=(ENV_PREFIX,),
            health_path="/healthz",
            cwd=PROJECT_ROOT,
            extra_args=uvicorn_args,
        )

    return start


def within_deadline(
    send: Callable[[], httpx.Response], *, what: str = "the request"
) -> httpx.Response:
    """``send()``, failing the test (not hanging it) when no answer comes within the client's
    timeout: the scenarios' only timing assertion, and it detects hangs, not slowness."""
    try:
        return send()
    except httpx.TimeoutException:
        pytest.fail(f"{what} hung: no answer within {REQUEST_DEADLINE_SECONDS:.0f}s", pytrace=False)


def concurrently(
    calls: list[Callable[[], httpx.Response]], *, what: str = "a concurrent request"
) -> list[httpx.Response]:
    """Run the calls on threads at once; their responses in order (hangs fail the test)."""
    with ThreadPoolExecutor(max(len(calls), 1)) as pool:
        futures = [pool.submit(within_deadline, call, what=what) for call in calls]
        return [future.result() for future in futures]


def client_for(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=REQUEST_DEADLINE_SECONDS)


def create_tenant(client: httpx.Client, name: str = "Chaos tenant") -> Tenant:
    response = client.post("/admin/tenants", json={"name": name}, headers=ADMIN_HEADERS)
    assert response.status_code == 201, response.text
    body = response.json()
    return Tenant(uuid.UUID(body["tenant"]["id"]), {"X-API-Key": body["api_key"]["key"]})


def write_document(
    client: httpx.Client, tenant: Tenant, title: str, *, key: str | None = None
) -> httpx.Response:
    headers = dict(tenant.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        "/documents", json={"title": title, "body": f"body of {title}"}, headers=headers
    )


def write_documents(client: httpx.Client, tenant: Tenant, titles: list[str]) -> list[str]:
    """Create each document (asserting 201) and return the ids, in order."""
    ids = []
    for title in titles:
        response = write_document(client, tenant, title)
        assert response.status_code == 201, (title, response.status_code, response.text)
        ids.append(response.json()["id"])
    return ids


def listed_ids(client: httpx.Client, tenant: Tenant) -> list[str]:
    """Every document id of the tenant, through the API's pagination."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get("/documents", params=params, headers=tenant.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def wait_until(
    condition: Callable[[], bool], *, what: str, timeout: float = RECOVERY_DEADLINE_SECONDS
) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout`` seconds (a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f}s", pytrace=False)
        time.sleep(POLL_SECONDS)


def readiness(client: httpx.Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def is_ready(client: httpx.Client) -> bool:
    try:
        status, body = readiness(client)
    except httpx.TransportError:
        return False
    return status == 200 and body["status"] == "ok"


def database_rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    """Rows straight from Postgres (no service in between): what was really stored."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as connection:
        return connection.execute(query).fetchall()


def stored_documents(database_url: str) -> dict[str, str | None]:
    """Document id -> idempotency key, for every stored document."""
    rows = database_rows(database_url, "SELECT id::text, idempotency_key FROM documents")
    return {row[0]: row[1] for row in rows}


def created_events(database_url: str) -> list[tuple[int, str]]:
    """(event id, document id) of every document.created event in the outbox."""
    rows = database_rows(
        database_url,
        "SELECT id, payload->'document'->>'id' FROM outbox_events "
        "WHERE event_type = 'document.created' ORDER BY id",
    )
    return [(row[0], row[1]) for row in rows]


def unpublished_count(database_url: str) -> int:
    rows = database_rows(
        database_url, "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"
    )
    return int(rows[0][0])


FETCH_BATCH = 256


def delivered_events(nats_url: str, subject_prefix: str) -> list[EventMessage]:
    """Every message of the relay's JetStream stream, as a fresh consumer receives them."""

    async def read() -> list[EventMessage]:
        client = await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2)
        try:
            jetstream = client.jetstream()
            info = await jetstream.stream_info(stream_name(subject_prefix))
            subscription = await jetstream.pull_subscribe(
                all_tenants_subject(subject_prefix),
                stream=stream_name(subject_prefix),
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
            )
            messages: list[EventMessage] = []
            while len(messages) < info.state.messages:
                # In batches: one fetch of more than the consumer's max_ack_pending (1000 by
                # default) waits for messages JetStream will not send.
                batch = await subscription.fetch(
                    min(info.state.messages - len(messages), FETCH_BATCH),
                    timeout=REQUEST_DEADLINE_SECONDS,
                )
                for message in batch:
                    messages.append(EventMessage.from_json(message.data))
                    await message.ack()
            return messages
        finally:
            await client.close()

    return asyncio.run(read())


def deduplicated(events: list[EventMessage]) -> tuple[list[EventMessage], int]:
    """What a deduplicating consumer (SeenEvents) handles, and how many repeats it dropped."""
    seen = SeenEvents()
    handled = [event for event in events if seen.first_time(event.id)]
    return handled, len(events) - len(handled)


def document_ids_of(events: list[EventMessage], event_type: str = "document.created") -> list[str]:
    return [str(event.payload["document"]["id"]) for event in events if event.type == event_type]


def log_mentions(server: RunningServer, text: str) -> bool:
    return text in server.log_text()


def as_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError:
        return response.text
