"""A latency histogram that yields Prometheus-shaped samples: what the SLO examples read.

A service exposes its histogram on /metrics (prometheus_client) and the tests parse the scrape.
Without a service no Prometheus client is installed, so this stand-in records observations and
produces the same samples a scrape yields: cumulative ``<name>_bucket`` counts labelled ``le``
(``+Inf`` last), plus ``<name>_count`` and ``<name>_sum``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sample:
    """One exposition line: the shape testkit.slo reads (prometheus_client's parser yields it)."""

    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(slots=True)
class LatencyHistogram:
    name: str
    bounds: Sequence[float]
    """Upper bucket boundaries in seconds, ascending; +Inf is implied."""
    _counts: dict[tuple[tuple[str, str], ...], list[int]] = field(default_factory=dict)
    _sums: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if list(self.bounds) != sorted(set(self.bounds)) or not self.bounds:
            raise ValueError(f"bounds must be ascending and distinct, got {list(self.bounds)!r}")

    def observe(self, seconds: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts = self._counts.setdefault(key, [0] * (len(self.bounds) + 1))
        # The first bucket whose upper bound is >= seconds (Prometheus buckets are "le").
        counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self._sums[key] = self._sums.get(key, 0.0) + seconds

    def samples(self) -> list[Sample]:
        result: list[Sample] = []
        for key, counts in self._counts.items():
            labels = dict(key)
            cumulative = 0
            for bound, count in zip([*self.bounds, math.inf], counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == math.inf else repr(float(bound))
                result.append(Sample(f"{self.name}_bucket", labels | {"le": le}, cumulative))
            result.append(Sample(f"{self.name}_count", labels, cumulative))
            result.append(Sample(f"{self.name}_sum", labels, self._sums[key]))
        return result
