"""Authentication: API keys (header or bearer), revocation, and the admin token."""

from __future__ import annotations

import httpx
import pytest

from _fixtures.service import ADMIN_HEADERS, TenantWithKey

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path",
    ["/documents", "/documents/00000000-0000-4000-8000-000000000000", "/search?q=x", "/keys"],
)
async def test_requests_without_a_key_are_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "X-API-Key" in response.json()["detail"]


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        "kb_0123456789abcdef_" + "A" * 43,  # well formed, unknown
    ],
)
async def test_requests_with_an_invalid_key_are_401(client: httpx.AsyncClient, key: str) -> None:
    response = await client.get("/documents", headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked API key"


async def test_a_known_key_id_with_a_wrong_secret_is_401(
    client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    prefix, key_id, secret = tenant.api_key.split("_", 2)
    forged = f"{prefix}_{key_id}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    response = await client.get("/documents", headers={"X-API-Key": forged})
    assert response.status_code == 401


async def test_a_key_works_as_a_bearer_token(
    client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    response = await client.get("/documents", headers={"Authorization": f"Bearer {tenant.api_key}"})
    assert response.status_code == 200


async def test_a_revoked_key_is_rejected_and_the_others_keep_working(
    client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    created = await client.post("/keys", json={"name": "ci"}, headers=tenant.headers)
    assert created.status_code == 201
    second_key = created.json()["key"]
    assert (await client.get("/documents", headers={"X-API-Key": second_key})).status_code == 200

    revoked = await client.delete(f"/keys/{tenant.api_key_id}", headers={"X-API-Key": second_key})
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    assert (await client.get("/documents", headers=tenant.headers)).status_code == 401
    assert (await client.get("/documents", headers={"X-API-Key": second_key})).status_code == 200


async def test_the_last_active_key_cannot_be_revoked(
    client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    response = await client.delete(f"/keys/{tenant.api_key_id}", headers=tenant.headers)
    assert response.status_code == 409
    assert "last active key" in response.json()["detail"]
    assert (await client.get("/documents", headers=tenant.headers)).status_code == 200


async def test_key_listings_never_contain_secrets(
    client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    created = await client.post("/keys", json={"name": "deploy"}, headers=tenant.headers)
    listing = await client.get("/keys", headers=tenant.headers)

    assert listing.status_code == 200
    assert sorted(k["name"] for k in listing.json()) == ["deploy", "initial"]
    secret_part = created.json()["key"].split("_", 2)[2]
    assert secret_part not in listing.text
    assert tenant.api_key.split("_", 2)[2] not in listing.text


@pytest.mark.parametrize("headers", [{}, {"X-Admin-Token": "wrong-token-wrong-token"}])
async def test_tenant_creation_needs_the_admin_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/admin/tenants", json={"name": "intruder"}, headers=headers)
    assert response.status_code == 401


async def test_an_api_key_is_not_an_admin_token(
    client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    response = await client.post(
        "/admin/tenants", json={"name": "escalation"}, headers={"X-Admin-Token": tenant.api_key}
    )
    assert response.status_code == 401


async def test_a_new_tenant_gets_a_working_key_once(client: httpx.AsyncClient) -> None:
    response = await client.post("/admin/tenants", json={"name": "  Acme  "}, headers=ADMIN_HEADERS)
    assert response.status_code == 201
    body = response.json()
    assert body["tenant"]["name"] == "Acme"
    key = body["api_key"]["key"]
    assert (await client.get("/documents", headers={"X-API-Key": key})).status_code == 200
    listing = await client.get("/keys", headers={"X-API-Key": key})
    assert "key" not in listing.json()[0]
