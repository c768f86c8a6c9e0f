"""User journeys over real HTTP, shared by the e2e tier and the observability SLO check.

Each journey is what a client of the service does in order, asserting every answer on the
way. They only use the public API and the admin token, so they run unchanged against a local
uvicorn process or, under TEST_MODE=LIVE_SMOKE, a deployment (see _fixtures.service.LiveTarget).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from _fixtures.service import LiveTarget

EVENT_TIMEOUT_SECONDS = 10.0
# How long a socket that must receive nothing is watched.
QUIET_SECONDS = 1.0
WS_CLOSE_UNAUTHORIZED = 4401


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    api_key: str
    api_key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


def expect(response: httpx.Response, status: int) -> httpx.Response:
    """The response, after checking its status; a mismatch shows the request and the body."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}, expected {status}: {response.text[:500]}"
    )
    return response


def create_tenant(http: httpx.Client, target: LiveTarget, label: str) -> Tenant:
    """A new tenant through the admin API; the name is unique so reruns never collide."""
    name = f"e2e {label} {uuid.uuid4().hex[:12]}"
    body = expect(
        http.post("/admin/tenants", json={"name": name}, headers=target.admin_headers), 201
    ).json()
    assert body["tenant"]["name"] == name
    return Tenant(body["tenant"]["id"], body["api_key"]["key"], body["api_key"]["id"])


def search_titles(http: httpx.Client, tenant: Tenant, query: str) -> list[str]:
    response = expect(http.get("/search", params={"q": query}, headers=tenant.headers), 200)
    return [hit["title"] for hit in response.json()["hits"]]


def document_journey(http: httpx.Client, target: LiveTarget) -> Tenant:
    """Tenant and key -> second key -> create, read, list, search, update, delete documents."""
    tenant = create_tenant(http, target, "documents")
    headers = tenant.headers

    second_key = expect(http.post("/keys", json={"name": "ci"}, headers=headers), 201).json()
    listed = expect(http.get("/keys", headers=headers), 200).json()
    assert {key["id"] for key in listed} == {tenant.api_key_id, second_key["id"]}
    # The second key works like the first: it belongs to the same tenant.
    expect(http.get("/documents", headers={"X-API-Key": second_key["key"]}), 200)

    created = expect(
        http.post(
            "/documents",
            json={"title": "Aardvark care", "body": "Aardvarks eat termites at night."},
            headers=headers,
        ),
        201,
    ).json()
    expect(
        http.post(
            "/documents",
            json={"title": "Badger habits", "body": "Badgers dig burrows called setts."},
            headers=headers,
        ),
        201,
    )
    document_url = f"/documents/{created['id']}"
    fetched = expect(http.get(document_url, headers=headers), 200).json()
    assert fetched == created

    page = expect(http.get("/documents", headers=headers), 200).json()
    assert sorted(item["title"] for item in page["items"]) == ["Aardvark care", "Badger habits"]

    assert search_titles(http, tenant, "termites") == ["Aardvark care"]
    # Asked twice: the second answer may come from the cache and must be the same.
    assert search_titles(http, tenant, "termites") == ["Aardvark care"]

    updated = expect(
        http.patch(document_url, json={"title": "Aardvark feeding"}, headers=headers), 200
    ).json()
    assert updated["title"] == "Aardvark feeding"
    assert updated["body"] == created["body"]
    # The write invalidated the cached search: the new title shows at once.
    assert search_titles(http, tenant, "termites") == ["Aardvark feeding"]

    expect(http.delete(document_url, headers=headers), 204)
    expect(http.get(document_url, headers=headers), 404)
    assert search_titles(http, tenant, "termites") == []

    revoked = expect(http.delete(f"/keys/{second_key['id']}", headers=headers), 200).json()
    assert revoked["revoked_at"] is not None
    expect(http.get("/documents", headers={"X-API-Key": second_key["key"]}), 401)
    return tenant


def websocket_url(target: LiveTarget, query: str = "") -> str:
    return target.base_url.replace("http", "ws", 1) + "/ws" + query


def receive_events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` event frames; a TimeoutError if the server sends fewer."""
    return [json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS)) for _ in range(count)]


def websocket_journey(http: httpx.Client, target: LiveTarget) -> None:
    """Live document events over /ws: only to their tenant, in order, resumable by id."""
    owner = create_tenant(http, target, "ws owner")
    bystander = create_tenant(http, target, "ws bystander")
    # after=0: everything of these fresh tenants, so no event can slip in before the
    # server sets its cursor (after=None would start from "now").
    with (
        connect(websocket_url(target, "?after=0"), additional_headers=owner.headers) as owner_ws,
        connect(websocket_url(target, "?after=0"), additional_headers=bystander.headers) as other,
    ):
        document = expect(
            http.post(
                "/documents", json={"title": "Live", "body": "Streamed."}, headers=owner.headers
            ),
            201,
        ).json()
        url = f"/documents/{document['id']}"
        expect(http.patch(url, json={"title": "Live, edited"}, headers=owner.headers), 200)
        expect(http.delete(url, headers=owner.headers), 204)

        events = receive_events(owner_ws, 3)
        assert [event["type"] for event in events] == [
            "document.created",
            "document.updated",
            "document.deleted",
        ]
        assert {event["payload"]["document"]["id"] for event in events} == {document["id"]}
        assert events[1]["payload"]["document"]["title"] == "Live, edited"
        assert {event["tenant_id"] for event in events} == {owner.id}
        # A chain: each event names its predecessor, so a gap would be visible.
        assert [event["previous_id"] for event in events[1:]] == [e["id"] for e in events[:2]]
        # The other tenant's socket hears nothing of it.
        try:
            leaked = other.recv(timeout=QUIET_SECONDS)
        except TimeoutError:
            leaked = None
        assert leaked is None, f"another tenant received {leaked!r}"

    # Reconnect after the first event: exactly the two later ones, in order, once.
    resume = websocket_url(target, f"?after={events[0]['id']}")
    with connect(resume, additional_headers=owner.headers) as resumed_ws:
        resumed = receive_events(resumed_ws, 2)
        assert [event["id"] for event in resumed] == [event["id"] for event in events[1:]]

    bad_key = {"X-API-Key": "kb_wrong"}
    with (
        connect(websocket_url(target), additional_headers=bad_key) as bad,
        pytest.raises(ConnectionClosed) as closed,
    ):
        bad.recv(timeout=EVENT_TIMEOUT_SECONDS)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == WS_CLOSE_UNAUTHORIZED
