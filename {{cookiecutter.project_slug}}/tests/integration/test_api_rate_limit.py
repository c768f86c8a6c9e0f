"""The per-tenant rate limit, through the HTTP API."""

from __future__ import annotations

import pytest

from _fixtures.service import ServiceFactory, create_tenant

pytestmark = pytest.mark.anyio


async def test_requests_over_the_limit_get_429_with_retry_after(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(rate_limit_per_minute=3)
    tenant = await create_tenant(service.client, name="busy")

    statuses = [
        (await service.client.get("/documents", headers=tenant.headers)).status_code
        for _ in range(3)
    ]
    refused = await service.client.get("/documents", headers=tenant.headers)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "3 requests per minute" in refused.json()["detail"]


async def test_one_tenant_hitting_the_limit_does_not_limit_another(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(rate_limit_per_minute=2)
    busy = await create_tenant(service.client, name="busy")
    quiet = await create_tenant(service.client, name="quiet")
    for _ in range(3):
        await service.client.get("/documents", headers=busy.headers)

    assert (await service.client.get("/documents", headers=busy.headers)).status_code == 429
    assert (await service.client.get("/documents", headers=quiet.headers)).status_code == 200


async def test_unauthenticated_requests_do_not_spend_a_tenants_budget(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(rate_limit_per_minute=1)
    tenant = await create_tenant(service.client, name="target")
    for _ in range(3):
        await service.client.get("/documents", headers={"X-API-Key": "kb_bogus"})
    assert (await service.client.get("/documents", headers=tenant.headers)).status_code == 200
