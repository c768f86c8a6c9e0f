"""The run's `testkit_*` metrics as Prometheus metric families, and their text form.

Pure: results in, families out (no registry state, no `_created` series). Every value describes
the LAST run of its scope, so they are gauges (and one histogram of that run's test durations);
in Prometheus, the Pushgateway keeps each scope's last push and the dashboard sums the scopes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from testkit.monitoring.results import OUTCOMES, RunFacts, TestResult

# Test durations, in seconds: from a pure function's milliseconds to pytest-timeout's default.
DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
PREFIX = "testkit_"


def scope_of(results: Iterable[TestResult]) -> str:
    """The Pushgateway group of a run: its tiers, e.g. "unit" or "integration+unit"."""
    tiers = sorted({result.tier for result in results})
    return "+".join(tiers) if tiers else "empty"


def _by_tier(results: Sequence[TestResult]) -> dict[str, list[TestResult]]:
    grouped: dict[str, list[TestResult]] = defaultdict(list)
    for result in results:
        grouped[result.tier].append(result)
    return dict(sorted(grouped.items()))


def _buckets(durations: Sequence[float]) -> list[tuple[str, float]]:
    """Cumulative counts per upper bound, +Inf last (the exposition format's buckets)."""
    ordered = sorted(durations)
    counts: list[tuple[str, float]] = []
    index = 0
    for bound in DURATION_BUCKETS:
        while index < len(ordered) and ordered[index] <= bound:
            index += 1
        counts.append((repr(bound), float(index)))
    counts.append(("+Inf", float(len(ordered))))
    return counts


def run_families(results: Sequence[TestResult], run: RunFacts) -> list[Metric]:
    """Tests by tier and outcome, durations, flaky and quarantined counts, the run itself."""
    tests = GaugeMetricFamily(
        "testkit_tests", "Tests of the last run by tier and outcome.", labels=["tier", "outcome"]
    )
    durations = HistogramMetricFamily(
        "testkit_test_duration_seconds",
        "Setup+call+teardown seconds of each test of the last run.",
        labels=["tier"],
    )
    slowest = GaugeMetricFamily(
        "testkit_test_duration_max_seconds",
        "The slowest test of the last run, seconds.",
        labels=["tier"],
    )
    flaky = GaugeMetricFamily(
        "testkit_tests_flaky",
        "Tests that failed, then passed on a retry, in the last run.",
        labels=["tier"],
    )
    quarantined = GaugeMetricFamily(
        "testkit_tests_quarantined",
        "Quarantined tests (tests/quarantine.toml) that ran in the last run.",
        labels=["tier"],
    )
    for tier, members in _by_tier(results).items():
        outcomes = Counter(result.outcome for result in members)
        for outcome in (*OUTCOMES, *sorted(set(outcomes) - set(OUTCOMES))):
            tests.add_metric([tier, outcome], outcomes.get(outcome, 0))
        seconds = [result.duration_s for result in members]
        durations.add_metric([tier], buckets=_buckets(seconds), sum_value=sum(seconds))
        slowest.add_metric([tier], max(seconds))
        flaky.add_metric([tier], sum(result.flaky for result in members))
        quarantined.add_metric([tier], sum(result.quarantined for result in members))
    families: list[Metric] = [tests, durations, slowest, flaky, quarantined]
    families.append(
        GaugeMetricFamily(
            "testkit_run_duration_seconds",
            "Wall-clock seconds of the last run.",
            value=max(run.finished_at - run.started_at, 0.0),
        )
    )
    families.append(
        GaugeMetricFamily(
            "testkit_run_finished_timestamp_seconds",
            "When the last run ended (Unix time).",
            value=run.finished_at,
        )
    )
    families.append(
        GaugeMetricFamily(
            "testkit_run_exit_status",
            "pytest's exit status of the last run (0: all passed).",
            value=run.exit_status,
        )
    )
    if run.timeout_s is not None:
        families.append(
            GaugeMetricFamily(
                "testkit_test_timeout_seconds",
                "TEST_TIMEOUT in force in the last run (0: no limit).",
                value=run.timeout_s,
            )
        )
    return families


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def registry_of(families: Iterable[Metric]) -> CollectorRegistry:
    """A registry holding exactly these families (what push_to_gateway sends)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return registry


def render(families: Iterable[Metric]) -> str:
    """Prometheus text exposition format."""
    from prometheus_client.exposition import generate_latest

    return generate_latest(registry_of(families)).decode("utf-8")


def parse(text: str) -> list[Metric]:
    """The families of a metrics file (prometheus_client's text parser)."""
    from prometheus_client.parser import text_string_to_metric_families

    return list(text_string_to_metric_families(text))


def replace_families(existing: Iterable[Metric], new: Sequence[Metric]) -> list[Metric]:
    """``existing`` without the families ``new`` redefines, then ``new``."""
    names = {family.name for family in new}
    return [family for family in existing if family.name not in names] + list(new)
