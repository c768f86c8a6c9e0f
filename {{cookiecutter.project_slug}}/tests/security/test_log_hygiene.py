"""Secrets and personal data never reach the logs, over a whole journey at DEBUG level."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from websockets.asyncio.client import connect

from _fixtures.service import (
    ADMIN_HEADERS,
    TEST_ADMIN_TOKEN,
    TEST_API_KEY_PEPPER,
    LiveServerFactory,
    ServiceFactory,
    create_tenant,
)
from _helpers.web_doubles import LoopbackSite, Page

pytestmark = pytest.mark.anyio

EMAIL = "jane.doe.private@example.org"
WRONG_ADMIN_TOKEN = "guessed-admin-token-987654321"
GUESSED_KEY = "kb_0123456789abcdef_" + "Z" * 43


async def test_journey_logs_no_secret_and_no_email(
    service_factory: ServiceFactory,
    loopback_site: LoopbackSite,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    loopback_site.pages["/contact"] = Page(f"<p>Write to {EMAIL}</p>".encode())
    service = await service_factory(ingest_allowed_hosts="127.0.0.1")
    client = service.client

    tenant = await create_tenant(client, name=f"Tenant of {EMAIL}")
    second = await client.post("/keys", json={"name": EMAIL}, headers=tenant.headers)
    second_key = second.json()["key"]
    await client.post(
        "/documents", json={"title": EMAIL, "body": f"mail {EMAIL}"}, headers=tenant.headers
    )
    await client.get("/search", params={"q": EMAIL}, headers=tenant.headers)
    await client.post("/ask", json={"question": f"who is {EMAIL}?"}, headers=tenant.headers)
    await client.post(
        "/documents/ingest", json={"url": loopback_site.url("/contact")}, headers=tenant.headers
    )
    # Refusals are where code tends to log what it was given.
    await client.post(
        "/documents/ingest",
        json={"url": f"http://{EMAIL.split('@')[0]}:{second_key}@example.com/"},
        headers=tenant.headers,
    )
    await client.post(
        "/documents/ingest",
        json={"url": f"http://127.0.0.1/?token={second_key}"},
        headers=tenant.headers,
    )
    await client.delete(f"/keys/{second.json()['id']}", headers=tenant.headers)
    await client.get("/documents", headers={"X-API-Key": second_key})
    await client.get("/documents", headers={"X-API-Key": GUESSED_KEY})
    await client.get("/documents", headers={"Authorization": f"Bearer {GUESSED_KEY}"})
    await client.post(
        "/admin/tenants", json={"name": "x"}, headers={"X-Admin-Token": WRONG_ADMIN_TOKEN}
    )
    await client.post("/admin/tenants", json={"name": EMAIL}, headers=ADMIN_HEADERS)

    secrets = {
        "tenant API key": tenant.api_key,
        "second API key": second_key,
        # kb_<id>_<secret>; the secret's URL-safe alphabet has "_" too, so split from the left.
        "key secret part": second_key.split("_", 2)[2],
        "guessed key": GUESSED_KEY,
        "admin token": TEST_ADMIN_TOKEN,
        "wrong admin token": WRONG_ADMIN_TOKEN,
        "pepper": TEST_API_KEY_PEPPER,
        "email": EMAIL,
    }
    assert caplog.records, "the journey logged nothing: the check would prove nothing"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        leaked = [name for name, value in secrets.items() if value in text]
        assert not leaked, f"{record.name} logged the {', '.join(leaked)}: {text[:200]!r}"


async def test_websocket_key_in_the_query_string_never_reaches_the_server_log(
    live_server_factory: LiveServerFactory,
) -> None:
    # uvicorn logs every request line with its query string; /ws accepts ?api_key= for
    # clients that cannot set headers, so the real server's log file is what must stay clean.
    server = live_server_factory()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as client:
        tenant = await create_tenant(client, name="Tenant with a query-string key")
    url = f"ws://127.0.0.1:{server.port}/ws?api_key={tenant.api_key}"
    async with connect(url) as websocket:
        await websocket.ping()
    await asyncio.sleep(0.2)  # uvicorn writes the line as the handshake completes

    log = server.log_path.read_text(encoding="utf-8")
    assert "/ws?api_key=[redacted]" in log
    assert tenant.api_key not in log
