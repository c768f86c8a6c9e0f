"""SQL injection payloads through every text the API takes: stored or refused, never executed.

Each payload goes through search, document fields, ids, cursors, key and tenant names, /ask
and ingest. The bar: no 5xx, nothing of another tenant returned, text stored verbatim, and
every table still there with the rows it had.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from _fixtures.service import ADMIN_HEADERS, ServiceHarness, TenantWithKey

pytestmark = pytest.mark.anyio

PAYLOADS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "'; DROP TABLE documents; --",
    '"; DROP TABLE tenants; --',
    "' UNION SELECT secret_hash, key_id, name FROM api_keys --",
    "'; SELECT pg_sleep(5); --",
    "$$; DROP TABLE outbox_events; $$",
    "\\'; TRUNCATE documents CASCADE; --",
    "'||(SELECT current_setting('is_superuser'))||'",
    "!:* | a:* & !(b <-> c)",
    "' AND 1=CAST((SELECT key_id FROM api_keys LIMIT 1) AS int) --",
]


@pytest.fixture
async def victim_document(service: ServiceHarness, other_tenant: TenantWithKey) -> dict[str, Any]:
    response = await service.client.post(
        "/documents",
        json={"title": "victim only", "body": "quarterly numbers"},
        headers=other_tenant.headers,
    )
    assert response.status_code == 201
    return dict(response.json())


def _row_counts(connection: psycopg.Connection[Any]) -> dict[str, int]:
    counts = {}
    for table in ("tenants", "api_keys", "documents"):
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        counts[table] = int(row[0])
    return counts


def _assert_no_server_error(response: httpx.Response, where: str) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_payload_is_inert_everywhere(
    service: ServiceHarness,
    tenant: TenantWithKey,
    victim_document: dict[str, Any],
    admin_connection: psycopg.Connection[Any],
    payload: str,
) -> None:
    client, headers = service.client, tenant.headers
    before = _row_counts(admin_connection)

    search = await client.get("/search", params={"q": payload}, headers=headers)
    _assert_no_server_error(search, "search")
    if search.status_code == 200:
        assert search.json()["hits"] == []

    created = await client.post(
        "/documents", json={"title": payload, "body": payload}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert (created.json()["title"], created.json()["body"]) == (payload.strip(), payload)
    document_id = created.json()["id"]
    fetched = await client.get(f"/documents/{document_id}", headers=headers)
    assert fetched.json()["body"] == payload
    patched = await client.patch(
        f"/documents/{document_id}", json={"body": payload + payload}, headers=headers
    )
    assert patched.json()["body"] == payload + payload

    for method, path in [
        ("GET", "/documents/{}"),
        ("PATCH", "/documents/{}"),
        ("DELETE", "/documents/{}"),
        ("DELETE", "/keys/{}"),
    ]:
        response = await client.request(
            method,
            path.format(payload),
            headers=headers,
            json={"title": "x"} if method == "PATCH" else None,
        )
        _assert_no_server_error(response, f"{method} {path}")
        assert response.status_code in (404, 405, 422)

    listing = await client.get("/documents", params={"cursor": payload}, headers=headers)
    _assert_no_server_error(listing, "cursor")
    assert listing.status_code == 422

    key = await client.post("/keys", json={"name": payload}, headers=headers)
    assert key.status_code == 201
    assert key.json()["name"] == payload.strip()
    new_tenant = await client.post("/admin/tenants", json={"name": payload}, headers=ADMIN_HEADERS)
    assert new_tenant.status_code == 201
    assert new_tenant.json()["tenant"]["name"] == payload.strip()

    ask = await client.post("/ask", json={"question": payload}, headers=headers)
    _assert_no_server_error(ask, "ask")
    assert victim_document["id"] not in ask.text
    ingest = await client.post("/documents/ingest", json={"url": payload}, headers=headers)
    assert ingest.status_code == 422

    after = _row_counts(admin_connection)
    assert after == {
        "tenants": before["tenants"] + 1,
        "api_keys": before["api_keys"] + 2,
        "documents": before["documents"] + 1,
    }
    victim_view = await client.get("/documents", headers=headers)
    assert victim_document["id"] not in victim_view.text
