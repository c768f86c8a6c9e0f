"""URL ingest as a saga on real Postgres: a failure at any step is compensated and leaves no
half-ingested document visible; a crash mid-saga is compensated by the recovery sweep."""

from __future__ import annotations

import pytest

from _fixtures.service import ServiceFactory, ServiceHarness, TenantWithKey, create_tenant
from _helpers.saga_faults import SimulatedCrash, StoredIngest, fail_at, stored_ingest
from _helpers.web_doubles import LoopbackSite, Page

from {{ cookiecutter.package_name }}.ingest import FetchedPage, FetchPolicy, UrlFetcher
from {{ cookiecutter.package_name }}.ingest_saga import STEPS, Step
from {{ cookiecutter.package_name }}.ingest_saga_runner import (
    IngestSagaRunner,
    recover_stale_sagas,
)
from {{ cookiecutter.package_name }}.routers.ingest import get_ingest_saga, get_url_fetcher
from {{ cookiecutter.package_name }}.ssrf import SystemResolver

pytestmark = pytest.mark.anyio

PAGE = b"<html><title>Wombat notes</title><p>The wombat digs burrows.</p><p>At night.</p></html>"
# The steps whose failure the saga itself must undo something for.
AFTER_STORE = (Step.INDEX, Step.PUBLISH)


async def _setup(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> tuple[ServiceHarness, TenantWithKey, str]:
    loopback_site.pages["/wombat.html"] = Page(PAGE)
    service = await service_factory(ingest_allowed_hosts="127.0.0.1")
    tenant = await create_tenant(service.client, name="Saga tenant")
    return service, tenant, loopback_site.url("/wombat.html")


async def _visible(service: ServiceHarness, tenant: TenantWithKey) -> tuple[list[str], list[str]]:
    """Document ids as the API lists them and as search finds them."""
    listing = await service.client.get("/documents", headers=tenant.headers)
    search = await service.client.get("/search", params={"q": "wombat"}, headers=tenant.headers)
    assert listing.status_code == search.status_code == 200
    return (
        [item["id"] for item in listing.json()["items"]],
        [hit["id"] for hit in search.json()["hits"]],
    )


def _runner(service: ServiceHarness, step: Step | None, error: BaseException) -> IngestSagaRunner:
    return IngestSagaRunner(service.resources.sessionmaker, before_commit=fail_at(step, error))


def _fetcher(service: ServiceHarness) -> UrlFetcher:
    return UrlFetcher(FetchPolicy.from_settings(service.settings), resolver=SystemResolver())


def _assert_nothing_left(stored: StoredIngest, *, failed_at: Step) -> None:
    assert stored.chunks == 0
    assert stored.created_events == 0
    assert set(stored.document_statuses) <= {"failed"}
    # The failure event exists exactly when a stored document had to be withdrawn.
    assert stored.failed_events == (1 if failed_at in AFTER_STORE else 0)


async def test_a_completed_ingest_is_visible_chunked_and_announced_once(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    service, tenant, url = await _setup(service_factory, loopback_site)

    response = await service.client.post(
        "/documents/ingest", json={"url": url}, headers=tenant.headers
    )

    assert response.status_code == 201, response.text
    document_id = response.json()["id"]
    assert await _visible(service, tenant) == ([document_id], [document_id])
    stored = await stored_ingest(service.resources.sessionmaker, tenant.id)
    assert [(s.status, s.step, str(s.document_id)) for s in stored.sagas] == [
        ("completed", "publish", document_id)
    ]
    assert (stored.document_statuses, stored.chunks, stored.created_events) == (["ready"], 1, 1)


@pytest.mark.parametrize("step", STEPS, ids=[step.value for step in STEPS])
async def test_a_failed_step_is_compensated_and_nothing_is_visible(
    service_factory: ServiceFactory, loopback_site: LoopbackSite, step: Step
) -> None:
    service, tenant, url = await _setup(service_factory, loopback_site)
    failing = _runner(service, step, RuntimeError("injected"))
    service.app.dependency_overrides[get_ingest_saga] = lambda: failing

    response = await service.client.post(
        "/documents/ingest", json={"url": url}, headers=tenant.headers
    )

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert await _visible(service, tenant) == ([], [])
    stored = await stored_ingest(service.resources.sessionmaker, tenant.id)
    assert [(s.status, s.failed_step) for s in stored.sagas] == [("compensated", step.value)]
    _assert_nothing_left(stored, failed_at=step)


@pytest.mark.parametrize("step", STEPS, ids=[step.value for step in STEPS])
async def test_a_crash_mid_saga_is_compensated_by_the_recovery_sweep(
    service_factory: ServiceFactory, loopback_site: LoopbackSite, step: Step
) -> None:
    service, tenant, url = await _setup(service_factory, loopback_site)
    sessionmaker = service.resources.sessionmaker

    with pytest.raises(SimulatedCrash):
        await _runner(service, step, SimulatedCrash()).run(
            tenant_id=tenant.id, url=url, fetcher=_fetcher(service)
        )

    left = await stored_ingest(sessionmaker, tenant.id)
    assert [s.status for s in left.sagas] == ["running"], "a crash runs no compensation"
    assert await _visible(service, tenant) == ([], [])
    # Recent: a live request might still own it, so a sweep with a real threshold waits.
    assert await recover_stale_sagas(sessionmaker, stale_after_seconds=60) == 0

    assert await recover_stale_sagas(sessionmaker, stale_after_seconds=0) == 1

    stored = await stored_ingest(sessionmaker, tenant.id)
    assert [(s.status, s.failed_step) for s in stored.sagas] == [("compensated", step.value)]
    _assert_nothing_left(stored, failed_at=step)
    assert await _visible(service, tenant) == ([], [])


async def test_a_request_whose_saga_the_sweep_took_over_gives_up(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    """The sweep compensates a saga stuck in its fetch; the request's next step must not
    then store a document the saga row no longer accounts for."""
    service, tenant, url = await _setup(service_factory, loopback_site)
    sessionmaker = service.resources.sessionmaker

    class SweptDuringFetch(UrlFetcher):
        async def fetch(self, raw_url: str) -> FetchedPage:
            assert await recover_stale_sagas(sessionmaker, stale_after_seconds=0) == 1
            return await super().fetch(raw_url)

    fetcher = SweptDuringFetch(
        FetchPolicy.from_settings(service.settings), resolver=SystemResolver()
    )
    service.app.dependency_overrides[get_url_fetcher] = lambda: fetcher

    response = await service.client.post(
        "/documents/ingest", json={"url": url}, headers=tenant.headers
    )

    assert response.status_code == 503, response.text
    stored = await stored_ingest(sessionmaker, tenant.id)
    assert [(s.status, s.failed_step) for s in stored.sagas] == [("compensated", "fetch")]
    assert (stored.document_statuses, stored.chunks) == ([], 0)


async def test_a_fetch_refusal_is_still_the_callers_error_and_a_finished_saga(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    service, tenant, _ = await _setup(service_factory, loopback_site)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/missing")}, headers=tenant.headers
    )

    assert response.status_code == 422
    stored = await stored_ingest(service.resources.sessionmaker, tenant.id)
    assert [(s.status, s.failed_step, s.document_id) for s in stored.sagas] == [
        ("compensated", "fetch", None)
    ]
    assert stored.document_statuses == []
