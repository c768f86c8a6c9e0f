"""Exact latency figures from every request's response time (no histogram buckets).

locust's own percentiles come from response times rounded into buckets (to 10 ms above 100 ms,
100 ms above 1 s), too coarse to see a 10% change. The recorder keeps each request's latency;
here they become p50/p95/p99 by linear interpolation between the two nearest ranks (numpy's
default method), throughput and error rate, per endpoint ("GET /search") and in total.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

SAMPLE_COLUMNS = ("endpoint", "start_s", "response_ms", "failed")
PERCENTILES = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}


class Sample(NamedTuple):
    """One request: its endpoint key, start (seconds after the load began), latency, outcome."""

    endpoint: str
    start_s: float
    response_ms: float
    failed: bool


@dataclass(frozen=True, slots=True)
class Figures:
    """One scope's figures. Percentiles cover successful requests; None when there are none."""

    requests: int
    failures: int
    error_rate: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Figures:
        def optional(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            requests=int(data["requests"]),
            failures=int(data["failures"]),
            error_rate=float(data["error_rate"]),
            rps=float(data["rps"]),
            p50_ms=optional("p50_ms"),
            p95_ms=optional("p95_ms"),
            p99_ms=optional("p99_ms"),
        )


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """The figures of one measured window (a round, or a whole run): total and per endpoint."""

    duration_s: float
    total: Figures
    endpoints: dict[str, Figures]

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 3),
            "total": self.total.as_dict(),
            "endpoints": {name: figures.as_dict() for name, figures in self.endpoints.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowFigures:
        return cls(
            duration_s=float(data.get("duration_s", 0.0)),
            total=Figures.from_dict(data["total"]),
            endpoints={
                name: Figures.from_dict(figures) for name, figures in data["endpoints"].items()
            },
        )


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of ascending ``ordered`` values, interpolated linearly."""
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    position = (len(ordered) - 1) * q / 100.0
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def figures_of(samples: Sequence[Sample], duration_s: float) -> Figures:
    """Figures of ``samples`` measured over ``duration_s`` seconds."""
    latencies = sorted(sample.response_ms for sample in samples if not sample.failed)
    failures = sum(1 for sample in samples if sample.failed)
    requests = len(samples)
    values = {
        key: (round(percentile(latencies, q), 3) if latencies else None)
        for key, q in PERCENTILES.items()
    }
    return Figures(
        requests=requests,
        failures=failures,
        error_rate=round(failures / requests, 6) if requests else 0.0,
        rps=round(requests / duration_s, 3) if duration_s > 0 else 0.0,
        p50_ms=values["p50_ms"],
        p95_ms=values["p95_ms"],
        p99_ms=values["p99_ms"],
    )


def window_figures(samples: Iterable[Sample], *, start_s: float, end_s: float) -> WindowFigures:
    """Figures of the requests that started in [start_s, end_s)."""
    if end_s <= start_s:
        raise ValueError(f"empty window: start {start_s} >= end {end_s}")
    chosen = [sample for sample in samples if start_s <= sample.start_s < end_s]
    by_endpoint: dict[str, list[Sample]] = defaultdict(list)
    for sample in chosen:
        by_endpoint[sample.endpoint].append(sample)
    duration = end_s - start_s
    return WindowFigures(
        duration_s=duration,
        total=figures_of(chosen, duration),
        endpoints={name: figures_of(by_endpoint[name], duration) for name in sorted(by_endpoint)},
    )


def write_samples(path: Path, samples: Iterable[Sample]) -> int:
    """Write samples as CSV (one row per request); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SAMPLE_COLUMNS)
        for sample in samples:
            writer.writerow(
                (
                    sample.endpoint,
                    f"{sample.start_s:.6f}",
                    f"{sample.response_ms:.4f}",
                    int(sample.failed),
                )
            )
            count += 1
    return count


def read_samples(path: Path) -> list[Sample]:
    """The samples the recorder wrote; a file of another shape is refused, naming it."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(header) != SAMPLE_COLUMNS:
            raise ValueError(
                f"{path} is not a samples file: header {header!r}, expected {list(SAMPLE_COLUMNS)}"
            )
        return [
            Sample(row[0], float(row[1]), float(row[2]), row[3] == "1") for row in reader if row
        ]
