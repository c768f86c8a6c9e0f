"""The per-tenant rate limit, through the HTTP API.

The limiter's clock is pinned 30 s into a one-minute window, so no test can straddle a
window boundary (which would reset the count) however slowly it runs.
"""

from __future__ import annotations

import pytest

from _fixtures.service import ServiceFactory, create_tenant
from _helpers.clock import FrozenClock

pytestmark = pytest.mark.anyio

WINDOW_START = 1_700_000_040.0  # a multiple of 60


def _mid_window() -> FrozenClock:
    return FrozenClock(WINDOW_START + 30)


async def test_requests_over_the_limit_get_429_with_retry_after(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(rate_limit_per_minute=3, clock=_mid_window())
    tenant = await create_tenant(service.client, name="busy")

    statuses = [
        (await service.client.get("/documents", headers=tenant.headers)).status_code
        for _ in range(3)
    ]
    refused = await service.client.get("/documents", headers=tenant.headers)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert "3 requests per minute" in refused.json()["detail"]


async def test_the_next_window_admits_again(service_factory: ServiceFactory) -> None:
    clock = _mid_window()
    service = await service_factory(rate_limit_per_minute=1, clock=clock)
    tenant = await create_tenant(service.client, name="patient")
    await service.client.get("/documents", headers=tenant.headers)
    assert (await service.client.get("/documents", headers=tenant.headers)).status_code == 429

    clock.advance(30)

    assert (await service.client.get("/documents", headers=tenant.headers)).status_code == 200


async def test_one_tenant_hitting_the_limit_does_not_limit_another(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(rate_limit_per_minute=2, clock=_mid_window())
    busy = await create_tenant(service.client, name="busy")
    quiet = await create_tenant(service.client, name="quiet")
    for _ in range(3):
        await service.client.get("/documents", headers=busy.headers)

    assert (await service.client.get("/documents", headers=busy.headers)).status_code == 429
    assert (await service.client.get("/documents", headers=quiet.headers)).status_code == 200


async def test_unauthenticated_requests_do_not_spend_a_tenants_budget(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(rate_limit_per_minute=1, clock=_mid_window())
    tenant = await create_tenant(service.client, name="target")
    for _ in range(3):
        await service.client.get("/documents", headers={"X-API-Key": "kb_bogus"})
    assert (await service.client.get("/documents", headers=tenant.headers)).status_code == 200
