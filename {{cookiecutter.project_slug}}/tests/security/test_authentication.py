"""Authentication on every operation, found from the OpenAPI document so none is forgotten.

An operation that declares the API-key scheme must refuse a missing, malformed, unknown or
revoked key; one that declares the admin token must refuse a missing or wrong token and a
tenant's API key. Every other operation must be on the short list of public ones.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from _fixtures.service import ADMIN_HEADERS, ServiceHarness, TenantWithKey

pytestmark = pytest.mark.anyio

PUBLIC_OPERATIONS = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
API_KEY_SCHEMES = {"ApiKey", "Bearer"}
ADMIN_SCHEME = "AdminToken"


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    """(method, path, security scheme names) of every operation."""
    found = []
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            schemes = {name for req in operation.get("security", []) for name in req}
            found.append((method.upper(), path, schemes))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


async def _call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    response = await client.request(method, _concrete(path), **kwargs)
    return response.status_code


async def test_every_operation_is_authenticated_or_known_public(service: ServiceHarness) -> None:
    unauthenticated = {
        (method, path)
        for method, path, schemes in _operations(service.app.openapi())
        if not schemes
    }
    assert unauthenticated <= PUBLIC_OPERATIONS, (
        f"operations without authentication: {sorted(unauthenticated - PUBLIC_OPERATIONS)}"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "not-a-key"},
        {"X-API-Key": "kb_0123456789abcdef_" + "A" * 43},
        {"Authorization": "Bearer kb_0123456789abcdef_" + "A" * 43},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-Admin-Token": "test-admin-token-0123456789"},
    ],
    ids=["none", "empty", "malformed", "unknown", "unknown-bearer", "basic", "admin-token"],
)
async def test_tenant_operations_refuse_without_a_valid_key(
    service: ServiceHarness, headers: dict[str, str]
) -> None:
    operations = [
        (method, path)
        for method, path, schemes in _operations(service.app.openapi())
        if schemes & API_KEY_SCHEMES
    ]
    assert len(operations) >= 10  # the documents, keys, search, ask and ingest operations
    statuses = {
        (method, path): await _call(service.client, method, path, headers)
        for method, path in operations
    }
    assert set(statuses.values()) == {401}, statuses


async def test_revoked_key_is_refused_everywhere(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    second = await service.client.post("/keys", json={"name": "second"}, headers=tenant.headers)
    revoked = await service.client.delete(f"/keys/{second.json()['id']}", headers=tenant.headers)
    assert revoked.status_code == 200
    headers = {"X-API-Key": second.json()["key"]}
    operations = [
        (method, path)
        for method, path, schemes in _operations(service.app.openapi())
        if schemes & API_KEY_SCHEMES
    ]
    statuses = {op: await _call(service.client, *op, headers) for op in operations}
    assert set(statuses.values()) == {401}, statuses
    still_valid = await service.client.get("/documents", headers=tenant.headers)
    assert still_valid.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Admin-Token": ""}, {"X-Admin-Token": "wrong"}, {"X-Admin-Token": "test-admin-token"}],
    ids=["none", "empty", "wrong", "prefix"],
)
async def test_admin_operations_refuse_a_missing_or_wrong_token(
    service: ServiceHarness, headers: dict[str, str]
) -> None:
    operations = [
        (method, path)
        for method, path, schemes in _operations(service.app.openapi())
        if ADMIN_SCHEME in schemes
    ]
    assert operations, "no admin operation found: did the AdminToken scheme change name?"
    statuses = {op: await _call(service.client, *op, headers) for op in operations}
    assert set(statuses.values()) == {401}, statuses


async def test_admin_token_opens_admin_operations(service: ServiceHarness) -> None:
    response = await service.client.post(
        "/admin/tenants", json={"name": "made by admin"}, headers=ADMIN_HEADERS
    )
    assert response.status_code == 201
