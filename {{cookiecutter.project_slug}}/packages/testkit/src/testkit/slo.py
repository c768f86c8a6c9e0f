"""Service-level objectives computed from a scraped Prometheus latency histogram.

A latency SLO ("99% of requests under 300 ms") is read the way Prometheus alerting reads it:
the cumulative bucket count at the threshold over the total count. The threshold must be a
bucket boundary: between boundaries the histogram cannot tell, and guessing would let a slow
service pass. Samples are anything with ``name``, ``labels`` and ``value`` (prometheus_client's
parser yields such objects), so testkit itself does not depend on prometheus_client.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol


class Sample(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def value(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SloResult:
    """How many requests were good, of how many, against which objective."""

    description: str
    good: float
    total: float
    objective: float

    @property
    def ratio(self) -> float:
        return self.good / self.total

    @property
    def met(self) -> bool:
        return self.ratio >= self.objective

    def __str__(self) -> str:
        verdict = "met" if self.met else "MISSED"
        return (
            f"SLO {verdict}: {self.description}: {self.ratio:.2%} of {self.total:.0f} requests "
            f"(objective {self.objective:.2%}, {self.total - self.good:.0f} bad)"
        )


def cumulative_buckets(
    samples: Iterable[Sample], histogram: str, match: Mapping[str, str] | None = None
) -> dict[float, float]:
    """``le`` boundary -> cumulative count of ``histogram``, summed over every label set
    that has all of ``match`` (e.g. ``{"route": "/search"}``); +Inf is ``math.inf``."""
    wanted = match or {}
    buckets: dict[float, float] = {}
    for sample in samples:
        if sample.name != f"{histogram}_bucket":
            continue
        if any(sample.labels.get(key) != value for key, value in wanted.items()):
            continue
        bound = float(sample.labels["le"])  # float() reads "+Inf" as inf
        buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def bucket_delta(after: Mapping[float, float], before: Mapping[float, float]) -> dict[float, float]:
    """What was observed between two scrapes of the same counters (``after - before``).

    Counters only grow within one process; a smaller value means it restarted in between,
    which would make the difference meaningless, so that is refused.
    """
    delta: dict[float, float] = {}
    for bound, count in after.items():
        earlier = before.get(bound, 0.0)
        if count < earlier:
            raise ValueError(
                f"bucket le={bound:g} went down from {earlier:g} to {count:g}: "
                "the process restarted between the scrapes"
            )
        delta[bound] = count - earlier
    return delta


def latency_slo(
    buckets: Mapping[float, float], *, threshold_seconds: float, objective: float
) -> SloResult:
    """The share of requests that finished within ``threshold_seconds`` (a bucket boundary)."""
    _check_objective(objective)
    total = buckets.get(math.inf)
    if not total:
        raise ValueError("the histogram holds no requests (no +Inf bucket or a zero count)")
    good = buckets.get(threshold_seconds)
    if good is None:
        bounds = ", ".join(f"{bound:g}" for bound in sorted(buckets) if bound != math.inf)
        raise ValueError(
            f"threshold_seconds must be a bucket boundary of the histogram ({bounds}), "
            f"got {threshold_seconds:g}"
        )
    return SloResult(f"requests within {threshold_seconds * 1000:g} ms", good, total, objective)


def availability_slo(
    samples: Iterable[Sample], histogram: str, *, objective: float, status_label: str = "status"
) -> SloResult:
    """The share of requests not answered with a 5xx, from the histogram's +Inf counts."""
    _check_objective(objective)
    good = total = 0.0
    for sample in samples:
        if sample.name != f"{histogram}_bucket" or float(sample.labels["le"]) != math.inf:
            continue
        total += sample.value
        if not sample.labels.get(status_label, "").startswith("5"):
            good += sample.value
    if not total:
        raise ValueError("the histogram holds no requests")
    return SloResult("requests answered without a 5xx", good, total, objective)


def _check_objective(objective: float) -> None:
    if not 0.0 < objective <= 1.0:
        raise ValueError(f"objective must be a fraction in (0, 1], got {objective!r}")
