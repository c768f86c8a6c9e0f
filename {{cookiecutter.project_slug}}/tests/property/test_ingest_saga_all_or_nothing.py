"""Whatever step of whichever ingest fails, and however (an error, or a crash that only the
recovery sweep cleans up), each ingest ends all or nothing: its document listed, searchable,
chunked and announced exactly once, or no trace of it visible. Real Postgres, real HTTP
fetches from a loopback site, failures injected through the saga's step hook."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fixtures.service import ServiceFactory, ServiceHarness, create_tenant
from _helpers.saga_faults import SimulatedCrash, fail_at, stored_ingest
from _helpers.web_doubles import LoopbackSite, Page

from {{ cookiecutter.package_name }}.ingest import FetchPolicy, UrlFetcher
from {{ cookiecutter.package_name }}.ingest_saga import STEPS, Step
from {{ cookiecutter.package_name }}.ingest_saga_runner import (
    IngestFailedError,
    IngestSagaRunner,
    recover_stale_sagas,
)
from {{ cookiecutter.package_name }}.ssrf import SystemResolver

pytestmark = pytest.mark.anyio

# One ingest: the step that fails (None: none does) and whether the failure is a crash.
plans = st.lists(st.tuples(st.sampled_from((*STEPS, None)), st.booleans()), min_size=1, max_size=3)


@pytest.fixture
async def numbat_service(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> ServiceHarness:
    """Built once for all the test's examples (function scope spans them); each example
    gets a tenant of its own."""
    loopback_site.pages["/numbat.html"] = Page(b"<title>Numbat</title><p>numbat termites</p>")
    return await service_factory(ingest_allowed_hosts="127.0.0.1")


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=plans)
async def test_every_ingest_is_either_complete_or_leaves_no_trace(
    numbat_service: ServiceHarness,
    loopback_site: LoopbackSite,
    plan: list[tuple[Step | None, bool]],
) -> None:
    service = numbat_service
    sessionmaker = service.resources.sessionmaker
    tenant = await create_tenant(service.client, name="Property saga tenant")
    fetcher = UrlFetcher(FetchPolicy.from_settings(service.settings), resolver=SystemResolver())

    completed: set[str] = set()
    for step, crash in plan:
        error = SimulatedCrash() if crash else RuntimeError("injected")
        runner = IngestSagaRunner(sessionmaker, before_commit=fail_at(step, error))
        with contextlib.suppress(IngestFailedError, SimulatedCrash):
            document = await runner.run(
                tenant_id=tenant.id, url=loopback_site.url("/numbat.html"), fetcher=fetcher
            )
            completed.add(str(document.id))
    await recover_stale_sagas(sessionmaker, stale_after_seconds=0)

    succeeded = sum(step is None for step, _ in plan)
    assert len(completed) == succeeded
    listing = await service.client.get("/documents", headers=tenant.headers)
    search = await service.client.get("/search", params={"q": "numbat"}, headers=tenant.headers)
    assert {item["id"] for item in listing.json()["items"]} == completed
    assert {hit["id"] for hit in search.json()["hits"]} == completed
    stored = await stored_ingest(sessionmaker, tenant.id)
    assert sorted(saga.status for saga in stored.sagas) == sorted(
        "completed" if step is None else "compensated" for step, _ in plan
    )
    assert {str(s.document_id) for s in stored.sagas if s.status == "completed"} == completed
    assert stored.document_statuses.count("ready") == succeeded
    assert set(stored.document_statuses) <= {"ready", "failed"}, "a pending document remains"
    assert stored.chunks == succeeded  # one short paragraph: one chunk per document
    assert stored.created_events == succeeded
