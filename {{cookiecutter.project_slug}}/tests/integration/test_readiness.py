"""Health probes, and how the service degrades when a dependency is down.

"Down" is a real refused connection (a port with no listener), not a mocked client.
"""

from __future__ import annotations

import httpx
import pytest

from _fixtures.service import ServiceFactory, create_tenant
from _helpers.ports import refused_port

pytestmark = pytest.mark.anyio


async def test_healthz_answers_without_dependencies(service_factory: ServiceFactory) -> None:
    service = await service_factory(
        database_url=f"postgresql://postgres@127.0.0.1:{refused_port()}/none",
        redis_url=f"redis://127.0.0.1:{refused_port()}/0",
    )
    response = await service.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_ok_when_everything_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"postgres": "ok", "redis": "ok", "nats": "ok"},
    }


async def test_readyz_is_degraded_but_ready_without_redis(service_factory: ServiceFactory) -> None:
    service = await service_factory(redis_url=f"redis://127.0.0.1:{refused_port()}/0")
    response = await service.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"postgres": "ok", "redis": "degraded", "nats": "ok"},
    }


async def test_readyz_is_503_without_postgres(service_factory: ServiceFactory) -> None:
    service = await service_factory(
        database_url=f"postgresql://postgres@127.0.0.1:{refused_port()}/none"
    )
    response = await service.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["postgres"] == "down"


async def test_without_postgres_requests_get_503_with_retry_after(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(
        database_url=f"postgresql://postgres@127.0.0.1:{refused_port()}/none"
    )
    well_formed_key = "kb_" + "0" * 16 + "_" + "A" * 43  # so the lookup reaches Postgres
    response = await service.client.get("/documents", headers={"X-API-Key": well_formed_key})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


async def test_without_redis_search_bypasses_the_cache_and_still_answers(
    service_factory: ServiceFactory,
) -> None:
    healthy = await service_factory()
    tenant = await create_tenant(healthy.client, name="no redis")
    created = await healthy.client.post(
        "/documents", json={"title": "River", "body": "delta"}, headers=tenant.headers
    )
    assert created.status_code == 201

    degraded = await service_factory(redis_url=f"redis://127.0.0.1:{refused_port()}/0")
    for _ in range(2):
        response = await degraded.client.get(
            "/search", params={"q": "river"}, headers=tenant.headers
        )
        assert response.status_code == 200
        assert response.headers["X-Cache"] == "bypass"
        assert [hit["title"] for hit in response.json()["hits"]] == ["River"]


async def test_without_redis_a_fail_closed_rate_limit_refuses_with_503(
    service_factory: ServiceFactory,
) -> None:
    healthy = await service_factory()
    tenant = await create_tenant(healthy.client, name="fail closed")
    degraded = await service_factory(
        redis_url=f"redis://127.0.0.1:{refused_port()}/0", rate_limit_fail_open=False
    )
    response = await degraded.client.get("/documents", headers=tenant.headers)
    assert response.status_code == 503
    assert "APP_RATE_LIMIT_FAIL_OPEN" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) >= 1


async def test_without_redis_a_fail_open_rate_limit_admits(service_factory: ServiceFactory) -> None:
    healthy = await service_factory()
    tenant = await create_tenant(healthy.client, name="fail open")
    degraded = await service_factory(
        redis_url=f"redis://127.0.0.1:{refused_port()}/0", rate_limit_fail_open=True
    )
    response = await degraded.client.get("/documents", headers=tenant.headers)
    assert response.status_code == 200


async def test_readyz_is_degraded_but_ready_without_nats(service_factory: ServiceFactory) -> None:
    service = await service_factory(nats_url=f"nats://127.0.0.1:{refused_port()}")
    response = await service.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"postgres": "ok", "redis": "ok", "nats": "degraded"},
    }
