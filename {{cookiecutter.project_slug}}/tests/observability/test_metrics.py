"""/metrics: latency histograms and error counters with bounded labels, and the outbox lag."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from e2e.journeys import create_tenant as create_live_tenant
from e2e.journeys import expect
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from _fixtures.service import LiveTarget, ServiceFactory, TenantWithKey, create_tenant
from _helpers.ports import refused_port

from {{ cookiecutter.package_name }}.metrics import (
    OUTBOX_LAG,
    REQUEST_DURATION,
    REQUEST_ERRORS,
    UNMATCHED_ROUTE,
)

pytestmark = pytest.mark.anyio


def samples(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(found: Iterable[Sample], name: str, **labels: str) -> float:
    """The sample's value, 0.0 when the series does not exist (yet)."""
    for sample in found:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    return 0.0


def scrape(http: httpx.Client) -> list[Sample]:
    response = expect(http.get("/metrics"), 200)
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def test_requests_are_counted_by_route_template_method_and_status(
    live_client: httpx.Client, live_target: LiveTarget
) -> None:
    tenant = create_live_tenant(live_client, live_target, "metrics")
    before = scrape(live_client)
    missing_ids = [str(uuid.uuid4()) for _ in range(2)]
    for missing in missing_ids:
        expect(live_client.get(f"/documents/{missing}", headers=tenant.headers), 404)
    expect(live_client.get(f"/no/such/path/{missing_ids[0]}"), 404)
    expect(
        live_client.post("/documents", json={"title": "t", "body": "b"}, headers=tenant.headers),
        201,
    )
    after = scrape(live_client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    count = f"{REQUEST_DURATION}_count"
    by_id = {"method": "GET", "route": "/documents/{document_id}"}
    assert delta(count, **by_id, status="404") == 2
    assert delta(count, method="POST", route="/documents", status="201") == 1
    assert delta(count, method="GET", route=UNMATCHED_ROUTE, status="404") == 1
    assert delta(f"{REQUEST_ERRORS}_total", **by_id, status_class="4xx") == 2
    assert delta(f"{REQUEST_ERRORS}_total", **by_id, status_class="5xx") == 0
    # Raw paths never become label values: one series per route, however many ids.
    label_values = {v for sample in after for v in sample.labels.values()}
    assert not any(missing in v for missing in missing_ids for v in label_values)
    # The histogram has its buckets, ending in +Inf equal to the count.
    inf = value(after, f"{REQUEST_DURATION}_bucket", **by_id, status="404", le="+Inf")
    assert inf == value(after, count, **by_id, status="404")


async def test_server_errors_are_counted_as_5xx_and_the_lag_is_unknown_without_a_database(
    service_factory: ServiceFactory,
) -> None:
    # A real refused port: the readiness probe answers 503 and the outbox lag cannot be read.
    service = await service_factory(
        database_url=f"postgresql://postgres@127.0.0.1:{refused_port()}/none",
        db_connect_timeout_seconds=1,
    )
    assert (await service.client.get("/readyz")).status_code == 503

    found = samples((await service.client.get("/metrics")).text)

    labels = {"method": "GET", "route": "/readyz"}
    assert value(found, f"{REQUEST_ERRORS}_total", **labels, status_class="5xx") == 1
    assert value(found, f"{REQUEST_DURATION}_count", **labels, status="503") == 1
    assert math.isnan(value(found, OUTBOX_LAG))


async def test_each_app_counts_only_its_own_requests(service_factory: ServiceFactory) -> None:
    first = await service_factory()
    second = await service_factory()
    for _ in range(3):
        assert (await first.client.get("/healthz")).status_code == 200

    def healthz_count(text: str) -> float:
        return value(samples(text), f"{REQUEST_DURATION}_count", route="/healthz")

    assert healthz_count((await first.client.get("/metrics")).text) == 3
    assert healthz_count((await second.client.get("/metrics")).text) == 0


async def test_the_outbox_lag_grows_while_no_relay_publishes(
    service_factory: ServiceFactory,
) -> None:
    # In-process apps run no lifespan, so no relay: the event stays unpublished.
    service = await service_factory()
    tenant: TenantWithKey = await create_tenant(service.client, name="lagging")
    created = await service.client.post(
        "/documents", json={"title": "t", "body": "b"}, headers=tenant.headers
    )
    assert created.status_code == 201
    await asyncio.sleep(1.1)

    lag = value(samples((await service.client.get("/metrics")).text), OUTBOX_LAG)

    assert 1.0 <= lag < 30.0


def test_the_live_servers_relay_brings_the_outbox_lag_back_to_zero(
    live_client: httpx.Client, live_target: LiveTarget
) -> None:
    tenant = create_live_tenant(live_client, live_target, "lag")
    expect(
        live_client.post("/documents", json={"title": "t", "body": "b"}, headers=tenant.headers),
        201,
    )
    # The relay runs every 0.5 s; the rest of the budget is for a loaded machine.
    deadline = time.monotonic() + 30.0
    lags: list[Any] = []
    while time.monotonic() < deadline:
        lags.append(value(scrape(live_client), OUTBOX_LAG))
        if lags[-1] == 0.0:
            return
        time.sleep(0.2)
    server_log = live_target.server.log_text() if live_target.server is not None else ""
    said = [line for line in server_log.splitlines() if "relay" in line or "nats" in line]
    raise AssertionError(
        f"the outbox lag never returned to 0 (last samples {lags[-5:]}); "
        f"the server's relay and NATS log lines: {said[-10:]}"
    )
