"""Oversized input is refused with 413 or 422 and one line of reason, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from _fixtures.service import ServiceFactory, ServiceHarness, TenantWithKey, create_tenant

from {{ cookiecutter.package_name }}.models import (
    BODY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)

pytestmark = pytest.mark.anyio


async def test_document_body_over_the_limit_is_422(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    response = await service.client.post(
        "/documents",
        json={"title": "t", "body": "x" * (BODY_MAX_LENGTH + 1)},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert "100000" in response.text


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/documents", {"title": "t" * (TITLE_MAX_LENGTH + 1), "body": "b"}),
        ("/keys", {"name": "n" * (NAME_MAX_LENGTH + 1)}),
        ("/ask", {"question": "q" * 1001}),
        ("/documents/ingest", {"url": "http://example.com/" + "a" * 2048}),
    ],
)
async def test_over_long_fields_are_422(
    service: ServiceHarness, tenant: TenantWithKey, path: str, payload: dict[str, str]
) -> None:
    response = await service.client.post(path, json=payload, headers=tenant.headers)
    assert response.status_code == 422, response.text


async def test_over_long_search_query_is_422(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    response = await service.client.get("/search", params={"q": "a" * 5000}, headers=tenant.headers)
    assert response.status_code == 422


async def test_request_over_the_size_limit_is_refused_before_it_is_read(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(max_request_bytes=4096)
    tenant = await create_tenant(service.client, name="sizes")
    response = await service.client.post(
        "/documents", json={"title": "t", "body": "x" * 5000}, headers=tenant.headers
    )
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "request body over the 4096-byte limit (APP_MAX_REQUEST_BYTES)"
    )


async def test_streamed_request_without_length_is_cut_off_at_the_limit(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(max_request_bytes=4096)
    tenant = await create_tenant(service.client, name="sizes")
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"title": "t", "body": "'
        for _ in range(100):
            sent += 1
            yield b"x" * 1024
        yield b'"}'

    response = await service.client.post(
        "/documents",
        content=chunks(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "4096-byte limit" in response.json()["detail"]
    assert sent < 100  # refused mid-stream, not after buffering everything
    listing = await service.client.get("/documents", headers=tenant.headers)
    assert listing.json()["items"] == []


async def test_default_limit_admits_a_maximal_document(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    # The request ceiling must sit above the largest valid document, escapes included.
    body = "\u00e9" * BODY_MAX_LENGTH
    response = await service.client.post(
        "/documents", json={"title": "t", "body": body}, headers=tenant.headers
    )
    assert response.status_code == 201
