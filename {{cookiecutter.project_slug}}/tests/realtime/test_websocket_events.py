"""WebSocket /ws against the service as a real uvicorn process, with real Postgres and NATS.

Every event travels the whole way: HTTP write -> outbox row -> relay -> JetStream -> the
process's subscription -> the tenant's sockets.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from _fixtures.service import LiveServerFactory, TenantWithKey, create_tenant
from testkit.server import RunningServer

pytestmark = pytest.mark.anyio

QUEUE_SIZE = 4
RECEIVE_TIMEOUT = 10.0


@pytest.fixture(scope="session")
def realtime_server(live_server_factory: LiveServerFactory) -> RunningServer:
    # A fast relay keeps the tests short; a tiny queue makes a slow consumer overflow soon.
    return live_server_factory(
        RELAY_INTERVAL_SECONDS="0.05",
        WS_QUEUE_SIZE=str(QUEUE_SIZE),
        RATE_LIMIT_PER_MINUTE="100000",
    )


@pytest.fixture
async def http(realtime_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=realtime_server.base_url, timeout=10.0) as client:
        yield client


def _ws_url(server: RunningServer, **params: str | int) -> str:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"ws://127.0.0.1:{server.port}/ws" + (f"?{query}" if query else "")


async def _subscribe(
    server: RunningServer, tenant: TenantWithKey, **params: str | int
) -> ClientConnection:
    websocket = await connect(_ws_url(server, **params), additional_headers=tenant.headers)
    # The server reads the table / joins the hub right after accepting; a ping round trip
    # proves the subscription is in place before the test writes anything.
    await (await websocket.ping())
    await asyncio.sleep(0.1)
    return websocket


async def _receive(websocket: ClientConnection, count: int) -> list[dict[str, Any]]:
    events = []
    for _ in range(count):
        raw = await asyncio.wait_for(websocket.recv(), RECEIVE_TIMEOUT)
        events.append(json.loads(raw))
    return events


async def _nothing_more(websocket: ClientConnection, seconds: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(websocket.recv(), seconds)


async def _create(
    http: httpx.AsyncClient, tenant: TenantWithKey, title: str, body: str = "b"
) -> str:
    response = await http.post(
        "/documents", json={"title": title, "body": body}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _titles(events: list[dict[str, Any]]) -> list[str]:
    return [event["payload"]["document"].get("title", "") for event in events]


async def _close_code(websocket: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(websocket.recv(), RECEIVE_TIMEOUT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_a_connection_without_a_key_is_closed_with_4401(
    realtime_server: RunningServer,
) -> None:
    async with connect(_ws_url(realtime_server)) as websocket:
        assert await _close_code(websocket) == 4401


async def test_a_wrong_key_in_the_query_is_closed_with_4401(
    realtime_server: RunningServer,
) -> None:
    wrong = "kb_" + "0" * 16 + "_" + "A" * 43
    async with connect(_ws_url(realtime_server, api_key=wrong)) as websocket:
        assert await _close_code(websocket) == 4401


async def test_a_revoked_key_is_closed_with_4401_and_a_live_key_in_the_query_works(
    realtime_server: RunningServer, http: httpx.AsyncClient
) -> None:
    tenant = await create_tenant(http, name="revoked")
    second = await http.post("/keys", json={"name": "second"}, headers=tenant.headers)
    assert second.status_code == 201, second.text
    revoked = await http.delete(f"/keys/{tenant.api_key_id}", headers=tenant.headers)
    assert revoked.status_code == 200, revoked.text
    async with connect(_ws_url(realtime_server, api_key=tenant.api_key)) as websocket:
        assert await _close_code(websocket) == 4401
    async with connect(_ws_url(realtime_server, api_key=second.json()["key"])) as websocket:
        await (await websocket.ping())  # accepted and still open
        await _nothing_more(websocket, 0.2)


async def test_each_tenant_receives_only_its_own_events_in_order(
    realtime_server: RunningServer, http: httpx.AsyncClient
) -> None:
    tenant_a = await create_tenant(http, name="A")
    tenant_b = await create_tenant(http, name="B")
    socket_a = await _subscribe(realtime_server, tenant_a)
    socket_b = await _subscribe(realtime_server, tenant_b)
    try:
        for number in range(5):
            await _create(http, tenant_a, f"a{number}")
            if number % 2 == 0:
                await _create(http, tenant_b, f"b{number}")
        events_a = await _receive(socket_a, 5)
        events_b = await _receive(socket_b, 3)
        await _nothing_more(socket_a)
        await _nothing_more(socket_b, 0.1)
    finally:
        await socket_a.close()
        await socket_b.close()
    assert _titles(events_a) == ["a0", "a1", "a2", "a3", "a4"]
    assert _titles(events_b) == ["b0", "b2", "b4"]
    assert {event["tenant_id"] for event in events_a} == {str(tenant_a.id)}
    assert {event["tenant_id"] for event in events_b} == {str(tenant_b.id)}
    ids = [event["id"] for event in events_a]
    assert ids == sorted(ids)


async def test_reconnecting_with_after_resumes_without_gaps_or_duplicates(
    realtime_server: RunningServer, http: httpx.AsyncClient
) -> None:
    tenant = await create_tenant(http, name="resume")
    first = await _subscribe(realtime_server, tenant)
    for number in range(3):
        await _create(http, tenant, f"d{number}")
    seen = await _receive(first, 3)
    await first.close()

    for number in range(3, 6):  # written while the client is away
        await _create(http, tenant, f"d{number}")
    last_seen = seen[1]["id"]  # as if the third had been lost with the connection
    second = await _subscribe(realtime_server, tenant, after=last_seen)
    try:
        backlog = await _receive(second, 4)
        await _create(http, tenant, "d6")
        live = await _receive(second, 1)
        await _nothing_more(second)
    finally:
        await second.close()
    assert _titles(backlog) == ["d2", "d3", "d4", "d5"]
    assert _titles(live) == ["d6"]
    ids = [event["id"] for event in [*backlog, *live]]
    assert ids == sorted(set(ids))
    assert backlog[0]["id"] == seen[2]["id"]


async def test_a_slow_consumer_does_not_hold_up_others(
    realtime_server: RunningServer, http: httpx.AsyncClient
) -> None:
    tenant = await create_tenant(http, name="slow")
    fast = await _subscribe(realtime_server, tenant)
    slow = await _stalled_subscriber(realtime_server, tenant)
    body = "x" * 100_000  # fat events fill the slow client's buffers quickly
    count = 30
    try:
        for number in range(count):
            await _create(http, tenant, f"s{number}", body)
        # The fast client gets everything while the slow one has read nothing at all.
        received = await _receive(fast, count)
        assert _titles(received) == [f"s{number}" for number in range(count)]
        # Then the slow one reads: whatever it gets is in order, and it ends either with
        # everything (the buffers held it) or with 1013 and where to resume from.
        titles, close = await _drain(slow, count)
        assert titles == [f"s{number}" for number in range(len(titles))]
        if len(titles) < count:
            assert close is not None
            assert close.code == 1013
            assert "reconnect with ?after=" in close.reason
    finally:
        await fast.close()
        await slow.close()


async def _drain(websocket: ClientConnection, count: int) -> tuple[list[str], Close | None]:
    """Read up to ``count`` events; the titles, and the close frame if the server closed."""
    titles: list[str] = []
    try:
        while len(titles) < count:
            titles += _titles([json.loads(await asyncio.wait_for(websocket.recv(), 10))])
    except ConnectionClosed as closed:
        return titles, closed.rcvd
    return titles, None


async def _stalled_subscriber(server: RunningServer, tenant: TenantWithKey) -> ClientConnection:
    """A client that reads nothing until told: tiny receive buffers at every layer."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", server.port))
    websocket = await connect(
        _ws_url(server),
        sock=raw,
        additional_headers=tenant.headers,
        max_queue=1,
        max_size=2**21,
    )
    await (await websocket.ping())
    await asyncio.sleep(0.1)
    return websocket
