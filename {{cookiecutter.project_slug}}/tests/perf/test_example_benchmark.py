"""Micro-benchmark example: testkit's exact percentile, the perf tier's hottest pure function.

pytest-benchmark times it under `make perf-micro` (compared with perf/baselines/micro, failing
beyond PERF_MICRO_LIMIT); in plain `make test` benchmarks are disabled (--benchmark-disable in
the pytest config), so each runs once as an ordinary test and its assertions still hold.
"""

from __future__ import annotations

import random

from pytest_benchmark.fixture import BenchmarkFixture

from testkit.perf.figures import Sample, figures_of, percentile

LATENCIES = sorted(random.Random(7).lognormvariate(2.0, 0.5) for _ in range(10_000))


def test_exact_percentile_of_ten_thousand_latencies(benchmark: BenchmarkFixture) -> None:
    p99 = benchmark(percentile, LATENCIES, 99.0)

    assert LATENCIES[9_898] <= p99 <= LATENCIES[9_899]


def test_round_figures_of_ten_thousand_requests(benchmark: BenchmarkFixture) -> None:
    samples = [Sample("GET /search", i / 1000, ms, i % 100 == 0) for i, ms in enumerate(LATENCIES)]

    figures = benchmark(figures_of, samples, 10.0)

    assert figures.requests == 10_000
    assert figures.failures == 100
    assert figures.rps == 1_000.0
