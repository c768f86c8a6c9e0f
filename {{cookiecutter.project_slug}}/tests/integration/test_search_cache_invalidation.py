"""Writes invalidate the tenant's cached searches; the cache really serves repeats."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from _fixtures.service import TenantWithKey

pytestmark = pytest.mark.anyio


async def _search(client: httpx.AsyncClient, tenant: TenantWithKey, q: str) -> httpx.Response:
    response = await client.get("/search", params={"q": q}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response


def _titles(response: httpx.Response) -> set[str]:
    return {hit["title"] for hit in response.json()["hits"]}


async def _create(client: httpx.AsyncClient, tenant: TenantWithKey, title: str, body: str) -> str:
    response = await client.post(
        "/documents", json={"title": title, "body": body}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    document_id: str = response.json()["id"]
    return document_id


async def test_a_repeated_search_is_served_from_the_cache(
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    admin_connection: psycopg.Connection[Any],
) -> None:
    await _create(client, tenant, "Harbor lights", "ships in the harbor")
    first = await _search(client, tenant, "harbor")
    assert first.headers["X-Cache"] == "miss"

    # Changed behind the service's back: no invalidation happens, so only a cached
    # answer can still show the old title.
    admin_connection.execute("UPDATE documents SET title = 'Renamed directly'")
    second = await _search(client, tenant, "harbor")

    assert second.headers["X-Cache"] == "hit"
    assert _titles(second) == {"Harbor lights"}


@pytest.mark.parametrize("write", ["create", "update", "delete"])
async def test_each_kind_of_write_invalidates_the_tenants_searches(
    client: httpx.AsyncClient, tenant: TenantWithKey, write: str
) -> None:
    document_id = await _create(client, tenant, "Copper mine", "copper ore")
    assert _titles(await _search(client, tenant, "copper")) == {"Copper mine"}
    assert (await _search(client, tenant, "copper")).headers["X-Cache"] == "hit"

    if write == "create":
        await _create(client, tenant, "Copper kettle", "a kettle")
        expected = {"Copper mine", "Copper kettle"}
    elif write == "update":
        response = await client.patch(
            f"/documents/{document_id}", json={"title": "Copper smelter"}, headers=tenant.headers
        )
        assert response.status_code == 200
        expected = {"Copper smelter"}
    else:
        response = await client.delete(f"/documents/{document_id}", headers=tenant.headers)
        assert response.status_code == 204
        expected = set()

    after = await _search(client, tenant, "copper")
    assert after.headers["X-Cache"] == "miss"
    assert _titles(after) == expected


async def test_another_tenants_write_leaves_this_tenants_cache_alone(
    client: httpx.AsyncClient, tenant: TenantWithKey, other_tenant: TenantWithKey
) -> None:
    await _create(client, tenant, "Violet field", "violet flowers")
    await _search(client, tenant, "violet")

    await _create(client, other_tenant, "Violet sky", "violet dusk")

    again = await _search(client, tenant, "violet")
    assert again.headers["X-Cache"] == "hit"
    assert _titles(again) == {"Violet field"}
