"""The transactional outbox: every document write leaves its event, in the same transaction."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from _fixtures.service import ServiceHarness, TenantWithKey

from {{ cookiecutter.package_name }} import outbox
from {{ cookiecutter.package_name }}.crud import documents

pytestmark = pytest.mark.anyio


def _events(connection: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return connection.execute(
        "SELECT id, previous_id, tenant_id, event_type, payload, published_at "
        "FROM outbox_events ORDER BY id"
    ).fetchall()


async def test_create_update_delete_each_write_one_event_in_order(
    client: httpx.AsyncClient,
    tenant: TenantWithKey,
    admin_connection: psycopg.Connection[Any],
) -> None:
    created = await client.post(
        "/documents", json={"title": "Rivers", "body": "water"}, headers=tenant.headers
    )
    document_id = created.json()["id"]
    await client.patch(f"/documents/{document_id}", json={"title": "Seas"}, headers=tenant.headers)
    await client.delete(f"/documents/{document_id}", headers=tenant.headers)

    rows = _events(admin_connection)
    assert [row[3] for row in rows] == ["document.created", "document.updated", "document.deleted"]
    assert {row[2] for row in rows} == {tenant.id}
    assert [row[1] for row in rows] == [None, rows[0][0], rows[1][0]]  # a chain, no gaps
    assert rows[0][4]["document"] | {"title": "Rivers"} == rows[0][4]["document"]
    assert rows[1][4]["document"]["title"] == "Seas"
    assert rows[2][4] == {"document": {"id": document_id}}
    assert all(row[5] is None for row in rows)  # nothing relayed yet


async def test_a_failed_write_rolls_back_its_event(
    service: ServiceHarness, tenant: TenantWithKey, admin_connection: psycopg.Connection[Any]
) -> None:
    async with service.resources.sessionmaker() as session:
        await documents.create_document(session, tenant_id=tenant.id, title="Doomed", body="x")
        with pytest.raises(DBAPIError, match="division by zero"):
            await session.execute(text("SELECT 1/0 AS boom"))
        await session.rollback()
    count = admin_connection.execute("SELECT count(*) FROM documents").fetchone()
    assert count == (0,)
    assert _events(admin_connection) == []


async def test_an_update_or_delete_of_a_missing_document_writes_no_event(
    client: httpx.AsyncClient, tenant: TenantWithKey, admin_connection: psycopg.Connection[Any]
) -> None:
    missing = uuid.uuid4()
    patched = await client.patch(
        f"/documents/{missing}", json={"title": "t"}, headers=tenant.headers
    )
    deleted = await client.delete(f"/documents/{missing}", headers=tenant.headers)
    assert (patched.status_code, deleted.status_code) == (404, 404)
    assert _events(admin_connection) == []


async def test_outbox_lag_is_the_age_of_the_oldest_unpublished_event(
    service: ServiceHarness, tenant: TenantWithKey, admin_connection: psycopg.Connection[Any]
) -> None:
    async with service.resources.sessionmaker() as session:
        assert await outbox.outbox_lag_seconds(session) == 0.0
    await service.client.post(
        "/documents", json={"title": "t", "body": "b"}, headers=tenant.headers
    )
    admin_connection.execute("UPDATE outbox_events SET created_at = now() - interval '30 seconds'")
    async with service.resources.sessionmaker() as session:
        lag = await outbox.outbox_lag_seconds(session)
        assert 30.0 <= lag < 60.0
        await outbox.mark_sent(session, event_ids=[_events(admin_connection)[0][0]])
        await session.commit()
    async with service.resources.sessionmaker() as session:
        assert await outbox.outbox_lag_seconds(session) == 0.0
