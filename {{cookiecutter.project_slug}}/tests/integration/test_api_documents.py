"""Document CRUD and pagination through the HTTP API."""

from __future__ import annotations

import httpx
import pytest

from _fixtures.factories import Persist
from _fixtures.service import TenantWithKey

from {{ cookiecutter.package_name }}.models import Tenant

pytestmark = pytest.mark.anyio


async def test_create_get_update_delete(client: httpx.AsyncClient, tenant: TenantWithKey) -> None:
    created = await client.post(
        "/documents", json={"title": " Draft ", "body": "first"}, headers=tenant.headers
    )
    assert created.status_code == 201
    document = created.json()
    assert (document["title"], document["body"]) == ("Draft", "first")

    fetched = await client.get(f"/documents/{document['id']}", headers=tenant.headers)
    assert fetched.json() == document

    updated = await client.patch(
        f"/documents/{document['id']}", json={"body": "second"}, headers=tenant.headers
    )
    assert updated.status_code == 200
    assert (updated.json()["title"], updated.json()["body"]) == ("Draft", "second")
    assert updated.json()["updated_at"] >= document["updated_at"]

    deleted = await client.delete(f"/documents/{document['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/documents/{document['id']}", headers=tenant.headers)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "body": "x"}, "title"),
        ({"title": "   ", "body": "x"}, "title"),
        ({"title": "t" * 201, "body": "x"}, "title"),
        ({"title": "nul\x00", "body": "x"}, "title"),
        ({"title": "ok"}, "body"),
        (
            {"title": "ok", "body": "x", "tenant_id": "00000000-0000-4000-8000-000000000000"},
            "tenant_id",
        ),
    ],
)
async def test_invalid_documents_are_422_naming_the_field(
    client: httpx.AsyncClient, tenant: TenantWithKey, body: dict[str, str], field: str
) -> None:
    response = await client.post("/documents", json=body, headers=tenant.headers)
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


async def test_an_empty_update_is_422(client: httpx.AsyncClient, tenant: TenantWithKey) -> None:
    created = await client.post(
        "/documents", json={"title": "t", "body": "b"}, headers=tenant.headers
    )
    response = await client.patch(
        f"/documents/{created.json()['id']}", json={}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert "at least one of title, body" in response.text


async def test_pages_cover_every_document_once_newest_first(
    client: httpx.AsyncClient, persist: Persist
) -> None:
    owner: Tenant = await persist.tenant()
    key = await persist.api_key(tenant=owner)
    documents = await persist.documents(7, tenant=owner)
    expected = [
        str(d.id) for d in sorted(documents, key=lambda d: (d.created_at, d.id), reverse=True)
    ]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/documents", params=params, headers=key.headers)
        assert response.status_code == 200
        seen += [item["id"] for item in response.json()["items"]]
        pages += 1
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
    assert pages == 3


async def test_a_forged_cursor_is_422(client: httpx.AsyncClient, tenant: TenantWithKey) -> None:
    response = await client.get("/documents", params={"cursor": "garbage"}, headers=tenant.headers)
    assert response.status_code == 422
    assert "cursor must be a next_cursor value" in response.json()["detail"]


async def test_search_ranks_title_matches_above_body_matches(
    client: httpx.AsyncClient, tenant: TenantWithKey
) -> None:
    for title, body in [("Gardening", "notes about a river"), ("River guide", "boats")]:
        await client.post("/documents", json={"title": title, "body": body}, headers=tenant.headers)

    response = await client.get("/search", params={"q": "River"}, headers=tenant.headers)

    assert response.json()["query"] == "river"
    hits = response.json()["hits"]
    assert [hit["title"] for hit in hits] == ["River guide", "Gardening"]
    assert hits[0]["rank"] > hits[1]["rank"] > 0


async def test_a_blank_search_is_422(client: httpx.AsyncClient, tenant: TenantWithKey) -> None:
    response = await client.get("/search", params={"q": "   "}, headers=tenant.headers)
    assert response.status_code == 422
    assert "q must contain at least one non-space character" in response.json()["detail"]
