"""Another tenant's documents are invisible on every route: 404, never 403, never data."""

from __future__ import annotations

import httpx
import pytest

from _fixtures.service import TenantWithKey

pytestmark = pytest.mark.anyio


@pytest.fixture
async def owned_document(client: httpx.AsyncClient, tenant: TenantWithKey) -> dict[str, str]:
    response = await client.post(
        "/documents",
        json={"title": "Secret engine plans", "body": "engine internals"},
        headers=tenant.headers,
    )
    assert response.status_code == 201
    document: dict[str, str] = response.json()
    return document


async def _unchanged(
    client: httpx.AsyncClient, tenant: TenantWithKey, document: dict[str, str]
) -> None:
    response = await client.get(f"/documents/{document['id']}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json() == document


async def test_get_of_another_tenants_document_is_404(
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    other_tenant: TenantWithKey,
    owned_document: dict[str, str],
) -> None:
    response = await client.get(f"/documents/{owned_document['id']}", headers=other_tenant.headers)
    assert response.status_code == 404
    assert "Secret" not in response.text


async def test_update_of_another_tenants_document_is_404_and_changes_nothing(
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    other_tenant: TenantWithKey,
    owned_document: dict[str, str],
) -> None:
    response = await client.patch(
        f"/documents/{owned_document['id']}", json={"title": "pwned"}, headers=other_tenant.headers
    )
    assert response.status_code == 404
    await _unchanged(client, tenant, owned_document)


async def test_delete_of_another_tenants_document_is_404_and_deletes_nothing(
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    other_tenant: TenantWithKey,
    owned_document: dict[str, str],
) -> None:
    response = await client.delete(
        f"/documents/{owned_document['id']}", headers=other_tenant.headers
    )
    assert response.status_code == 404
    await _unchanged(client, tenant, owned_document)


async def test_not_found_looks_the_same_for_foreign_and_missing_ids(
    client: httpx.AsyncClient, other_tenant: TenantWithKey, owned_document: dict[str, str]
) -> None:
    foreign = await client.get(f"/documents/{owned_document['id']}", headers=other_tenant.headers)
    missing = await client.get(
        "/documents/00000000-0000-4000-8000-000000000000", headers=other_tenant.headers
    )
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())


async def test_list_and_search_show_only_the_callers_documents(
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    other_tenant: TenantWithKey,
    owned_document: dict[str, str],
) -> None:
    mine = await client.post(
        "/documents", json={"title": "My engine", "body": "engine"}, headers=other_tenant.headers
    )
    listed = await client.get("/documents", headers=other_tenant.headers)
    found = await client.get("/search", params={"q": "engine"}, headers=other_tenant.headers)

    assert [d["id"] for d in listed.json()["items"]] == [mine.json()["id"]]
    assert [h["id"] for h in found.json()["hits"]] == [mine.json()["id"]]


async def test_a_search_cached_for_one_tenant_is_not_served_to_another(
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    other_tenant: TenantWithKey,
    owned_document: dict[str, str],
) -> None:
    # One write each, so both tenants' cache generations are equal and only the tenant
    # part of the cache key keeps their entries apart.
    unrelated = {"title": "Garden notes", "body": "roses"}
    await client.post("/documents", json=unrelated, headers=other_tenant.headers)
    cached = await client.get("/search", params={"q": "engine"}, headers=tenant.headers)
    assert [h["id"] for h in cached.json()["hits"]] == [owned_document["id"]]

    response = await client.get("/search", params={"q": "engine"}, headers=other_tenant.headers)

    assert response.json()["hits"] == []
    assert response.headers["X-Cache"] == "miss"


async def test_a_tenant_cannot_revoke_another_tenants_key(
    client: httpx.AsyncClient, tenant: TenantWithKey, other_tenant: TenantWithKey
) -> None:
    response = await client.delete(f"/keys/{tenant.api_key_id}", headers=other_tenant.headers)
    assert response.status_code == 404
    still_works = await client.get("/documents", headers=tenant.headers)
    assert still_works.status_code == 200
