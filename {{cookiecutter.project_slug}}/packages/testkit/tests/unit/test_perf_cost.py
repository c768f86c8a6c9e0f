"""PERF_COST_CEILING: the run's answer provider cost per answer, read from the service's
Prometheus counters, fails the perf gate above the ceiling and passes at or under it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

from testkit.cli import main
from testkit.perf.cost import (
    METRIC,
    ProviderSpend,
    check_cost,
    provider_spend,
    spend_between,
)
from testkit.perf.gate import PerfLimits, PerfResult, PerfVerdict, load_limits
from testkit.perf.render import format_table


class ServiceCounters:
    """The counters as the sample service exposes them (answer_providers/guarded.py)."""

    def __init__(self, answers: float, cost_usd: float, failures: float = 0.0) -> None:
        self.answers, self.cost_usd, self.failures = answers, cost_usd, failures

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "answer_provider_calls", "calls", labels=("provider", "outcome")
        )
        calls.add_metric(("openai", "success"), self.answers)
        calls.add_metric(("openai", "failure"), self.failures)
        yield calls
        tokens = CounterMetricFamily(
            "answer_provider_tokens", "tokens", labels=("provider", "direction")
        )
        tokens.add_metric(("openai", "input"), 1_000 * self.answers)
        tokens.add_metric(("openai", "output"), 50 * self.answers)
        yield tokens
        cost = CounterMetricFamily("answer_provider_cost_usd", "cost", labels=("provider",))
        cost.add_metric(("openai",), self.cost_usd)
        yield cost


def exposition(counters: ServiceCounters) -> str:
    registry = CollectorRegistry()
    registry.register(counters)
    return generate_latest(registry).decode()


def test_the_spend_is_read_from_the_services_counters() -> None:
    spend = provider_spend(exposition(ServiceCounters(answers=40, cost_usd=0.2, failures=7)))
    # Failed calls are not answers: the cost is divided by successful ones only.
    assert spend == ProviderSpend(
        answers=40, cost_usd=0.2, input_tokens=40_000, output_tokens=2_000
    )


def test_a_service_without_the_counters_has_no_spend() -> None:
    assert provider_spend("# nothing here\nhttp_requests_total 3\n") is None


def test_the_runs_spend_is_the_difference_of_two_readings() -> None:
    before = ProviderSpend(answers=10, cost_usd=0.05)
    after = ProviderSpend(answers=30, cost_usd=0.45)
    assert spend_between(before, after) == ProviderSpend(answers=20, cost_usd=0.4)
    assert spend_between(None, after) is None


@pytest.mark.parametrize(
    ("cost_usd", "ceiling", "verdict"),
    [
        (0.30, 0.01, PerfVerdict.REGRESSION),  # $0.015 per answer over a $0.01 ceiling
        (0.19, 0.01, PerfVerdict.PASS),
        (0.20, 0.01, PerfVerdict.PASS),  # exactly at the ceiling
        (0.0, 0.0, PerfVerdict.PASS),  # a free provider under a zero ceiling
        (0.0001, 0.0, PerfVerdict.REGRESSION),  # a zero ceiling allows no paid answer at all
    ],
)
def test_the_cost_per_answer_fails_only_above_the_ceiling(
    cost_usd: float, ceiling: float, verdict: PerfVerdict
) -> None:
    check = check_cost(ProviderSpend(answers=20, cost_usd=cost_usd), ceiling)
    assert check.verdict is verdict
    assert check.per_answer_usd == pytest.approx(cost_usd / 20)


@pytest.mark.parametrize(
    ("spend", "note"),
    [
        (None, "the service reports no provider cost"),
        (ProviderSpend(answers=0, cost_usd=0.0), "no answers in the run"),
    ],
)
def test_nothing_to_judge_is_skipped_saying_why(spend: ProviderSpend | None, note: str) -> None:
    check = check_cost(spend, 0.01)
    assert (check.verdict, check.note) == (PerfVerdict.SKIPPED, note)
    assert note in check.line()


def test_a_run_over_the_ceiling_fails_the_gate_with_a_row_saying_so() -> None:
    passing = PerfResult("baseline", (), 5, 5, 0.05)
    over = check_cost(ProviderSpend(answers=10, cost_usd=0.5), 0.01)
    result = replace(passing, checks=(over.metric_check(),))

    assert result.verdict is PerfVerdict.REGRESSION
    assert result.as_dict()["regressions"] == [f"total {METRIC}"]
    table = format_table(result)
    assert f"total {METRIC}" in table
    assert "$0.050000" in table
    assert "<=$0.01" in table
    assert "REGRESSION (over the ceiling of $0.01 per answer)" in table
    under = check_cost(ProviderSpend(answers=10, cost_usd=0.05), 0.01)
    assert replace(passing, checks=(under.metric_check(),)).verdict is PerfVerdict.PASS


def test_the_ceiling_comes_from_the_project_unless_perf_cost_ceiling_overrides(
    tmp_path: Path,
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    assert load_limits(pyproject).cost_ceiling_usd == 0.01  # the default
    pyproject.write_text("[tool.testkit]\nperf_cost_ceiling = 0.002\n")
    assert load_limits(pyproject).cost_ceiling_usd == 0.002
    assert load_limits(pyproject, cost_ceiling=0.5).cost_ceiling_usd == 0.5
    assert PerfLimits(percent={}).cost_ceiling_usd == 0.01


@pytest.mark.parametrize("ceiling", ["-1", "101", "nan"])
def test_a_ceiling_out_of_range_is_refused_in_one_line(
    ceiling: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["perf", "run", "--cost-ceiling", ceiling]) == 2
    assert capsys.readouterr().err == (
        "testkit perf: PERF_COST_CEILING (--cost-ceiling) must be a number from 0 to 100 "
        f"(USD per answer), got {float(ceiling):g}\n"
    )
