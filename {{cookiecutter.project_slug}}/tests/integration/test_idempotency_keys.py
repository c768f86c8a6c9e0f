"""Idempotency-Key on document creation: a retried create returns the original, never a copy."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from _fixtures.service import TenantWithKey

from {{ cookiecutter.package_name }}.models import Document, OutboxEvent

pytestmark = pytest.mark.anyio


async def _create(
    client: httpx.AsyncClient, tenant: TenantWithKey, key: str, title: str = "Report"
) -> httpx.Response:
    headers = {**tenant.headers, "Idempotency-Key": key}
    return await client.post("/documents", json={"title": title, "body": "b"}, headers=headers)


async def _count(session: AsyncSession, model: type[Document] | type[OutboxEvent]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_retry_with_the_same_key_returns_the_original_document(
    client: httpx.AsyncClient, tenant: TenantWithKey, db_session: AsyncSession
) -> None:
    first = await _create(client, tenant, "order-1")
    again = await _create(client, tenant, "order-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    # One document and one event: the replay wrote nothing.
    assert await _count(db_session, Document) == 1
    assert await _count(db_session, OutboxEvent) == 1


async def test_different_keys_and_no_key_each_create_a_document(
    client: httpx.AsyncClient, tenant: TenantWithKey, db_session: AsyncSession
) -> None:
    ids = {(await _create(client, tenant, key)).json()["id"] for key in ("a", "b")}
    for _ in range(2):
        response = await client.post(
            "/documents", json={"title": "t", "body": "b"}, headers=tenant.headers
        )
        ids.add(response.json()["id"])

    assert len(ids) == 4
    assert await _count(db_session, Document) == 4


async def test_keys_belong_to_their_tenant(
    client: httpx.AsyncClient, tenant: TenantWithKey, other_tenant: TenantWithKey
) -> None:
    mine = await _create(client, tenant, "shared-key", title="Mine")
    theirs = await _create(client, other_tenant, "shared-key", title="Theirs")

    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["title"] == "Theirs"


async def test_concurrent_requests_with_one_key_create_one_document(
    client: httpx.AsyncClient, tenant: TenantWithKey, db_session: AsyncSession
) -> None:
    responses = await asyncio.gather(*(_create(client, tenant, "race") for _ in range(4)))

    assert [response.status_code for response in responses] == [201] * 4
    assert len({response.json()["id"] for response in responses}) == 1
    assert await _count(db_session, Document) == 1


@pytest.mark.parametrize("key", ["has space", "", "k" * 256])
async def test_a_malformed_key_is_422(
    client: httpx.AsyncClient, tenant: TenantWithKey, key: str
) -> None:
    response = await _create(client, tenant, key)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
