"""Cross-tenant attacks on every route: the attacker holds a valid key of its own tenant.

ROUTE_ATTACKS names, for every route the app serves, the test that attacks it. A new route
fails ``test_every_route_has_a_cross_tenant_attack`` until someone writes its attack here:
the table is the checklist, and it cannot fall behind the app.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect

from _fixtures.service import (
    ServiceFactory,
    ServiceHarness,
    TenantWithKey,
    create_tenant,
)
from _helpers.web_doubles import LoopbackSite, Page
from testkit.server import RunningServer

from {{ cookiecutter.package_name }} import outbox, projection
from {{ cookiecutter.package_name }}.event_messages import EventMessage

pytestmark = pytest.mark.anyio

# A word only the victim's document contains: it must never reach the attacker.
VICTIM_WORD = "zyzzyvaprivate"
WS_RECEIVE_TIMEOUT = 10.0

ROUTE_ATTACKS: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "test_public_routes_reveal_no_tenant_data",
    ("GET", "/docs"): "test_public_routes_reveal_no_tenant_data",
    ("GET", "/docs/oauth2-redirect"): "test_public_routes_reveal_no_tenant_data",
    ("GET", "/redoc"): "test_public_routes_reveal_no_tenant_data",
    ("GET", "/healthz"): "test_public_routes_reveal_no_tenant_data",
    ("GET", "/readyz"): "test_public_routes_reveal_no_tenant_data",
    ("GET", "/metrics"): "test_public_routes_reveal_no_tenant_data",
    ("POST", "/admin/tenants"): "test_tenant_key_is_no_admin_token",
    ("POST", "/keys"): "test_key_created_by_attacker_opens_only_the_attacker_tenant",
    ("GET", "/keys"): "test_key_listing_shows_only_own_keys",
    ("DELETE", "/keys/{api_key_id}"): "test_attacker_cannot_revoke_a_victim_key",
    ("POST", "/documents"): "test_attacker_cannot_write_into_another_tenant",
    ("GET", "/documents"): "test_document_listing_shows_only_own_documents",
    ("GET", "/documents/{document_id}"): "test_victim_document_reads_as_not_found",
    ("PATCH", "/documents/{document_id}"): "test_attacker_cannot_change_a_victim_document",
    ("DELETE", "/documents/{document_id}"): "test_attacker_cannot_delete_a_victim_document",
    ("GET", "/search"): "test_search_never_returns_another_tenant_document",
    ("GET", "/document-stats"): "test_document_stats_count_only_the_callers_documents",
    ("POST", "/ask"): "test_ask_never_retrieves_or_cites_another_tenant_document",
    ("POST", "/documents/ingest"): "test_ingest_lands_in_the_caller_tenant_only",
    ("WS", "/ws"): "test_websocket_never_delivers_another_tenant_event",
}


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route, ("WS", path) of every WebSocket route."""
    import fastapi.routing

    # FastAPI 0.16x nests included routers; iter_route_contexts flattens them. Older
    # versions (still allowed by the service's pins) keep app.routes flat already.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: list[Any] = list(flatten(app.routes)) if flatten is not None else list(app.routes)
    served: set[tuple[str, str]] = set()
    for route in routes:
        methods = route.methods
        if methods is None:
            served.add(("WS", route.path))
        else:
            served.update((method, route.path) for method in methods if method != "HEAD")
    return served


async def test_every_route_has_a_cross_tenant_attack(service: ServiceHarness) -> None:
    served = served_routes(service.app)
    missing = sorted(served - ROUTE_ATTACKS.keys())
    stale = sorted(ROUTE_ATTACKS.keys() - served)
    assert not missing, (
        f"routes with no cross-tenant attack: {missing}; add each to ROUTE_ATTACKS in "
        "tests/security/test_cross_tenant.py with a test that attacks it"
    )
    assert not stale, f"ROUTE_ATTACKS names routes the app no longer serves: {stale}"
    undefined = sorted({name for name in ROUTE_ATTACKS.values() if name not in globals()})
    assert not undefined, f"ROUTE_ATTACKS names tests that do not exist: {undefined}"


@dataclass(frozen=True, slots=True)
class Scene:
    client: httpx.AsyncClient
    victim: TenantWithKey
    attacker: TenantWithKey
    victim_document: dict[str, Any]


@pytest.fixture
async def scene(
    client: httpx.AsyncClient, tenant: TenantWithKey, other_tenant: TenantWithKey
) -> Scene:
    response = await client.post(
        "/documents",
        json={"title": f"Victim plan {VICTIM_WORD}", "body": f"The {VICTIM_WORD} merger."},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return Scene(client, victim=tenant, attacker=other_tenant, victim_document=response.json())


def _reveals_victim(scene: Scene, response: httpx.Response) -> bool:
    text = response.text
    victim = scene.victim
    return any(
        secret in text
        for secret in (VICTIM_WORD, scene.victim_document["id"], str(victim.id), victim.api_key)
    )


async def _victim_document_unchanged(scene: Scene) -> None:
    response = await scene.client.get(
        f"/documents/{scene.victim_document['id']}", headers=scene.victim.headers
    )
    assert response.status_code == 200
    assert response.json() == scene.victim_document


@pytest.mark.parametrize(
    "path",
    [
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/healthz",
        "/readyz",
        "/metrics",
    ],
)
async def test_public_routes_reveal_no_tenant_data(scene: Scene, path: str) -> None:
    # The victim's traffic first, so per-request metrics or caches would hold its ids.
    await scene.client.get(
        f"/documents/{scene.victim_document['id']}", headers=scene.victim.headers
    )
    response = await scene.client.get(path)
    assert response.status_code in (200, 503)
    assert not _reveals_victim(scene, response)


async def test_tenant_key_is_no_admin_token(scene: Scene) -> None:
    attempts = [
        {"X-Admin-Token": scene.attacker.api_key},
        scene.attacker.headers,
        {**scene.attacker.headers, "X-Admin-Token": "wrong-token"},
    ]
    for headers in attempts:
        response = await scene.client.post("/admin/tenants", json={"name": "x"}, headers=headers)
        assert response.status_code == 401, headers


async def test_key_created_by_attacker_opens_only_the_attacker_tenant(scene: Scene) -> None:
    smuggled = await scene.client.post(
        "/keys",
        json={"name": "k", "tenant_id": str(scene.victim.id)},
        headers=scene.attacker.headers,
    )
    assert smuggled.status_code == 422
    created = await scene.client.post("/keys", json={"name": "k"}, headers=scene.attacker.headers)
    assert created.status_code == 201
    new_key = {"X-API-Key": created.json()["key"]}
    read = await scene.client.get(f"/documents/{scene.victim_document['id']}", headers=new_key)
    assert read.status_code == 404
    victim_keys = await scene.client.get("/keys", headers=scene.victim.headers)
    assert created.json()["id"] not in victim_keys.text


async def test_key_listing_shows_only_own_keys(scene: Scene) -> None:
    response = await scene.client.get("/keys", headers=scene.attacker.headers)
    assert response.status_code == 200
    assert [key["id"] for key in response.json()] == [str(scene.attacker.api_key_id)]
    assert str(scene.victim.api_key_id) not in response.text


async def test_attacker_cannot_revoke_a_victim_key(scene: Scene) -> None:
    response = await scene.client.delete(
        f"/keys/{scene.victim.api_key_id}", headers=scene.attacker.headers
    )
    assert response.status_code == 404
    still_works = await scene.client.get("/documents", headers=scene.victim.headers)
    assert still_works.status_code == 200


async def test_attacker_cannot_write_into_another_tenant(scene: Scene) -> None:
    smuggled = await scene.client.post(
        "/documents",
        json={"title": "planted", "body": "x", "tenant_id": str(scene.victim.id)},
        headers={**scene.attacker.headers, "X-Tenant-Id": str(scene.victim.id)},
    )
    assert smuggled.status_code == 422
    planted = await scene.client.post(
        "/documents",
        json={"title": "planted", "body": "x"},
        headers={**scene.attacker.headers, "X-Tenant-Id": str(scene.victim.id)},
    )
    assert planted.status_code == 201
    victim_list = await scene.client.get("/documents", headers=scene.victim.headers)
    assert [d["id"] for d in victim_list.json()["items"]] == [scene.victim_document["id"]]


async def test_document_listing_shows_only_own_documents(scene: Scene) -> None:
    response = await scene.client.get("/documents", headers=scene.attacker.headers)
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_victim_document_reads_as_not_found(scene: Scene) -> None:
    stolen = await scene.client.get(
        f"/documents/{scene.victim_document['id']}", headers=scene.attacker.headers
    )
    missing = await scene.client.get(f"/documents/{uuid.uuid4()}", headers=scene.attacker.headers)
    # Identical answers: the attacker cannot even learn that the id exists.
    assert (stolen.status_code, stolen.json()) == (missing.status_code, missing.json())
    assert stolen.status_code == 404


async def test_attacker_cannot_change_a_victim_document(scene: Scene) -> None:
    response = await scene.client.patch(
        f"/documents/{scene.victim_document['id']}",
        json={"title": "defaced"},
        headers=scene.attacker.headers,
    )
    assert response.status_code == 404
    await _victim_document_unchanged(scene)


async def test_attacker_cannot_delete_a_victim_document(scene: Scene) -> None:
    response = await scene.client.delete(
        f"/documents/{scene.victim_document['id']}", headers=scene.attacker.headers
    )
    assert response.status_code == 404
    await _victim_document_unchanged(scene)


async def test_search_never_returns_another_tenant_document(scene: Scene) -> None:
    # The victim searches first, so a cache keyed without the tenant would serve its hits.
    own = await scene.client.get("/search", params={"q": VICTIM_WORD}, headers=scene.victim.headers)
    assert [hit["id"] for hit in own.json()["hits"]] == [scene.victim_document["id"]]
    response = await scene.client.get(
        "/search", params={"q": VICTIM_WORD}, headers=scene.attacker.headers
    )
    assert response.status_code == 200
    assert response.json()["hits"] == []
    assert scene.victim_document["id"] not in response.text  # (the query itself is echoed)


async def test_document_stats_count_only_the_callers_documents(
    scene: Scene, service: ServiceHarness
) -> None:
    # The read model is fed by the event consumer: apply the victim's event as it does.
    async with service.resources.sessionmaker() as session, session.begin():
        events = await outbox.events_after(session, tenant_id=scene.victim.id, after=0, limit=10)
        for event in events:
            await projection.apply_event(session, EventMessage.from_row(event))
    own = await scene.client.get("/document-stats", headers=scene.victim.headers)
    assert own.json()["documents"] == 1
    response = await scene.client.get("/document-stats", headers=scene.attacker.headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["documents"], body["events_applied"], body["last_event_id"]) == (0, 0, 0)
    assert not _reveals_victim(scene, response)


async def test_ask_never_retrieves_or_cites_another_tenant_document(scene: Scene) -> None:
    response = await scene.client.post(
        "/ask",
        json={"question": f"What is the {VICTIM_WORD} merger?"},
        headers=scene.attacker.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["citations"], body["retrieved"]) == ([], [])
    assert scene.victim_document["id"] not in response.text
    assert "merger." not in body["answer"]


async def test_ingest_lands_in_the_caller_tenant_only(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/p"] = Page(b"<p>ingested text</p>")
    service = await service_factory(ingest_allowed_hosts="127.0.0.1")
    victim = await create_tenant(service.client, name="victim")
    attacker = await create_tenant(service.client, name="attacker")
    smuggled = await service.client.post(
        "/documents/ingest",
        json={"url": loopback_site.url("/p"), "tenant_id": str(victim.id)},
        headers=attacker.headers,
    )
    assert smuggled.status_code == 422
    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/p")}, headers=attacker.headers
    )
    assert response.status_code == 201
    victim_list = await service.client.get("/documents", headers=victim.headers)
    assert victim_list.json()["items"] == []
    attacker_list = await service.client.get("/documents", headers=attacker.headers)
    assert [d["id"] for d in attacker_list.json()["items"]] == [response.json()["id"]]


async def test_websocket_never_delivers_another_tenant_event(live_server: RunningServer) -> None:
    # WebSockets need the real server (the relay, NATS and the event hub run in its lifespan).
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10.0) as http:
        victim = await create_tenant(http, name="ws victim")
        attacker = await create_tenant(http, name="ws attacker")
        url = f"ws://127.0.0.1:{live_server.port}/ws"
        async with connect(url, additional_headers=attacker.headers) as websocket:
            await (await websocket.ping())
            planted = await http.post(
                "/documents",
                json={"title": f"victim {VICTIM_WORD}", "body": VICTIM_WORD},
                headers=victim.headers,
            )
            own = await http.post(
                "/documents", json={"title": "attacker own", "body": "x"}, headers=attacker.headers
            )
            assert (planted.status_code, own.status_code) == (201, 201)
            # Per-tenant order: had the victim's earlier event leaked, it would come first.
            first = await asyncio.wait_for(websocket.recv(), WS_RECEIVE_TIMEOUT)
            assert own.json()["id"] in str(first)
            assert VICTIM_WORD not in str(first)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(websocket.recv(), 1.0)
