"""The service's SLOs, computed from its own /metrics after a user journey."""

from __future__ import annotations

import httpx
from e2e.journeys import document_journey, expect
from prometheus_client.parser import text_string_to_metric_families

from _fixtures.service import LiveTarget
from testkit.slo import availability_slo, bucket_delta, cumulative_buckets, latency_slo

from {{ cookiecutter.package_name }}.metrics import (
    REQUEST_DURATION,
)

# 99% of requests within 300 ms (a bucket boundary of the histogram), and 99.9% without a 5xx.
LATENCY_THRESHOLD_SECONDS = 0.3
LATENCY_OBJECTIVE = 0.99
AVAILABILITY_OBJECTIVE = 0.999


JOURNEYS = 4


def api_buckets(http: httpx.Client) -> dict[float, float]:
    """The latency histogram of the API's own routes (scrapes are not what users wait for)."""
    text = expect(http.get("/metrics"), 200).text
    found = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    api = [sample for sample in found if sample.labels.get("route") != "/metrics"]
    return cumulative_buckets(api, REQUEST_DURATION)


def test_document_journeys_meet_the_latency_and_availability_slos(
    live_client: httpx.Client, live_target: LiveTarget
) -> None:
    # One journey first: connection pools fill and code paths warm up; the SLO is about the
    # steady state, measured as the difference between the two scrapes around the journeys.
    document_journey(live_client, live_target)
    before = api_buckets(live_client)
    for _ in range(JOURNEYS):
        document_journey(live_client, live_target)
    after = api_buckets(live_client)

    delta = bucket_delta(after, before)
    latency = latency_slo(
        delta, threshold_seconds=LATENCY_THRESHOLD_SECONDS, objective=LATENCY_OBJECTIVE
    )

    # Each journey makes over fifteen requests: the ratio rests on real traffic.
    assert latency.total >= 15 * JOURNEYS
    assert latency.met, str(latency)
    text = expect(live_client.get("/metrics"), 200).text
    found = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    availability = availability_slo(found, REQUEST_DURATION, objective=AVAILABILITY_OBJECTIVE)
    assert availability.met, str(availability)
