"""testkit.slo on hand-built histogram samples (the shape prometheus_client's parser yields)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from testkit.slo import availability_slo, bucket_delta, cumulative_buckets, latency_slo

H = "http_request_duration_seconds"


@dataclass(frozen=True)
class S:
    name: str
    labels: Mapping[str, str]
    value: float


def series(route: str, status: str, counts: dict[str, float]) -> list[S]:
    """Bucket samples of one label set; ``counts`` maps le -> cumulative count."""
    return [
        S(f"{H}_bucket", {"route": route, "status": status, "le": le}, value)
        for le, value in counts.items()
    ] + [S(f"{H}_count", {"route": route, "status": status}, counts["+Inf"])]


SAMPLES = [
    *series("/search", "200", {"0.1": 90.0, "0.3": 99.0, "+Inf": 100.0}),
    *series("/documents", "201", {"0.1": 10.0, "0.3": 10.0, "+Inf": 10.0}),
    *series("/documents", "500", {"0.1": 0.0, "0.3": 1.0, "+Inf": 2.0}),
]


def test_buckets_are_summed_over_label_sets_and_filtered_by_match() -> None:
    assert cumulative_buckets(SAMPLES, H) == {0.1: 100.0, 0.3: 110.0, math.inf: 112.0}
    assert cumulative_buckets(SAMPLES, H, {"route": "/search"}) == {
        0.1: 90.0,
        0.3: 99.0,
        math.inf: 100.0,
    }
    assert cumulative_buckets(SAMPLES, "other_histogram") == {}


def test_the_latency_slo_is_the_share_at_the_threshold_bucket() -> None:
    result = latency_slo(
        cumulative_buckets(SAMPLES, H, {"route": "/search"}), threshold_seconds=0.3, objective=0.99
    )

    assert (result.good, result.total) == (99.0, 100.0)
    assert result.met
    assert str(result) == (
        "SLO met: requests within 300 ms: 99.00% of 100 requests (objective 99.00%, 1 bad)"
    )


def test_one_slow_request_too_many_misses_the_slo() -> None:
    result = latency_slo(
        cumulative_buckets(SAMPLES, H, {"route": "/search"}), threshold_seconds=0.1, objective=0.99
    )

    assert not result.met
    assert str(result).startswith("SLO MISSED: requests within 100 ms: 90.00% of 100")


def test_a_threshold_between_buckets_is_refused_naming_the_boundaries() -> None:
    with pytest.raises(ValueError, match=r"bucket boundary of the histogram \(0.1, 0.3\), got 0.2"):
        latency_slo(cumulative_buckets(SAMPLES, H), threshold_seconds=0.2, objective=0.99)


def test_an_empty_histogram_cannot_meet_or_miss_an_slo() -> None:
    with pytest.raises(ValueError, match="no requests"):
        latency_slo({}, threshold_seconds=0.3, objective=0.99)
    with pytest.raises(ValueError, match="no requests"):
        availability_slo([], H, objective=0.99)


@pytest.mark.parametrize("objective", [0.0, 1.5, -0.1])
def test_an_objective_outside_zero_to_one_is_refused(objective: float) -> None:
    with pytest.raises(ValueError, match=r"objective must be a fraction in \(0, 1\]"):
        latency_slo({math.inf: 1.0, 0.3: 1.0}, threshold_seconds=0.3, objective=objective)


def test_availability_counts_5xx_as_bad() -> None:
    result = availability_slo(SAMPLES, H, objective=0.99)

    assert (result.good, result.total) == (110.0, 112.0)
    assert not result.met


def test_the_delta_of_two_scrapes_is_what_happened_in_between() -> None:
    before = {0.1: 10.0, 0.3: 12.0, math.inf: 12.0}
    after = {0.1: 15.0, 0.3: 20.0, math.inf: 21.0}

    assert bucket_delta(after, before) == {0.1: 5.0, 0.3: 8.0, math.inf: 9.0}
    assert bucket_delta(after, {}) == after


def test_a_counter_that_went_down_is_refused_as_a_restart() -> None:
    with pytest.raises(ValueError, match=r"le=0.3 went down from 12 to 2: the process restarted"):
        bucket_delta({0.3: 2.0, math.inf: 2.0}, {0.3: 12.0, math.inf: 12.0})
