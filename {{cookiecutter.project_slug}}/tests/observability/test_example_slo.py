"""Example observability tests: testkit.slo reads latency and availability SLOs off a histogram.

With a service the samples come from scraping its /metrics around a user journey; here they
come from example_histogram, fed with chosen latencies and with timings measured in the test.
"""

from __future__ import annotations

import json
import time

import pytest
from observability.example_histogram import LatencyHistogram

from testkit.slo import availability_slo, bucket_delta, cumulative_buckets, latency_slo

NAME = "http_request_duration_seconds"
BOUNDS = (0.005, 0.05, 0.1, 0.3, 1.0)


def _histogram(
    fast: int, slow: int, *, route: str = "/notes", status: str = "200"
) -> LatencyHistogram:
    histogram = LatencyHistogram(NAME, BOUNDS)
    for _ in range(fast):
        histogram.observe(0.02, route=route, status=status)
    for _ in range(slow):
        histogram.observe(0.8, route=route, status=status)
    return histogram


def test_one_slow_request_in_a_hundred_meets_99_percent_within_300_ms() -> None:
    buckets = cumulative_buckets(_histogram(fast=99, slow=1).samples(), NAME)

    result = latency_slo(buckets, threshold_seconds=0.3, objective=0.99)

    assert (result.good, result.total) == (99, 100)
    assert result.met, str(result)


def test_a_request_taking_exactly_the_threshold_counts_as_within_it() -> None:
    histogram = LatencyHistogram(NAME, BOUNDS)
    histogram.observe(0.3, route="/notes", status="200")  # Prometheus buckets are "<= le"
    histogram.observe(0.3000001, route="/notes", status="200")

    buckets = cumulative_buckets(histogram.samples(), NAME)

    assert (buckets[0.1], buckets[0.3], buckets[1.0]) == (0, 1, 2)


def test_two_slow_requests_in_a_hundred_miss_it_and_say_by_how_much() -> None:
    buckets = cumulative_buckets(_histogram(fast=98, slow=2).samples(), NAME)

    result = latency_slo(buckets, threshold_seconds=0.3, objective=0.99)

    assert not result.met
    assert str(result) == (
        "SLO MISSED: requests within 300 ms: 98.00% of 100 requests (objective 99.00%, 2 bad)"
    )


def test_a_threshold_between_bucket_boundaries_is_refused_naming_the_boundaries() -> None:
    buckets = cumulative_buckets(_histogram(fast=10, slow=0).samples(), NAME)

    with pytest.raises(
        ValueError, match=r"bucket boundary of the histogram \(0.005, 0.05, 0.1, 0.3, 1\), got 0.2"
    ):
        latency_slo(buckets, threshold_seconds=0.2, objective=0.99)


def test_route_labels_select_and_5xx_answers_count_against_availability() -> None:
    histogram = _histogram(fast=997, slow=0)
    for _ in range(3):
        histogram.observe(0.01, route="/notes", status="503")
    histogram.observe(2.0, route="/metrics", status="200")
    samples = histogram.samples()

    notes_only = cumulative_buckets(samples, NAME, match={"route": "/notes"})
    availability = availability_slo(samples, NAME, objective=0.999)

    assert notes_only[float("inf")] == 1000  # the slow /metrics scrape is not counted
    assert latency_slo(notes_only, threshold_seconds=0.05, objective=1.0).met
    assert (availability.good, availability.total) == (998, 1001)
    assert not availability.met, str(availability)


def test_the_difference_of_two_scrapes_measures_only_what_happened_in_between() -> None:
    histogram = _histogram(fast=0, slow=50)  # a slow warm-up
    before = cumulative_buckets(histogram.samples(), NAME)
    for _ in range(100):
        histogram.observe(0.02, route="/notes", status="200")
    after = cumulative_buckets(histogram.samples(), NAME)

    steady = latency_slo(bucket_delta(after, before), threshold_seconds=0.3, objective=0.99)

    assert (steady.good, steady.total) == (100, 100)
    with pytest.raises(ValueError, match="restarted between the scrapes"):
        bucket_delta(before, after)


def test_measured_timings_of_real_work_meet_a_latency_slo() -> None:
    histogram = LatencyHistogram(NAME, BOUNDS)
    document = {"items": [{"id": i, "text": f"note {i}"} for i in range(200)]}
    for _ in range(200):
        started = time.perf_counter()
        assert json.loads(json.dumps(document)) == document
        histogram.observe(time.perf_counter() - started, route="/notes", status="200")

    result = latency_slo(
        cumulative_buckets(histogram.samples(), NAME), threshold_seconds=0.1, objective=0.99
    )

    assert result.total == 200
    assert result.met, str(result)
