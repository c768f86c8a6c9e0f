"""The run's metrics as Prometheus text: what each family holds, the gates' merge, the parse."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from testkit.gates import GateResult, Verdict
from testkit.monitoring.gate_metrics import coverage_percent, record_gate_metrics
from testkit.monitoring.results import RunFacts, TestResult
from testkit.monitoring.run_metrics import parse, render, run_families, scope_of

RUN = RunFacts(started_at=100.0, finished_at=112.5, exit_status=1, timeout_s=300.0)
RESULTS = [
    TestResult("unit", "passed", 0.002),
    TestResult("unit", "passed", 0.3, flaky=True),
    TestResult("unit", "failed", 1.5),
    TestResult("integration", "passed", 4.0, quarantined=True),
    TestResult("integration", "skipped", 0.0),
]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_tests_are_counted_by_tier_and_outcome_zeros_included() -> None:
    found = samples(render(run_families(RESULTS, RUN)))

    assert found["testkit_tests", (("outcome", "passed"), ("tier", "unit"))] == 2
    assert found["testkit_tests", (("outcome", "failed"), ("tier", "unit"))] == 1
    assert found["testkit_tests", (("outcome", "error"), ("tier", "unit"))] == 0
    assert found["testkit_tests", (("outcome", "skipped"), ("tier", "integration"))] == 1
    assert found["testkit_tests_flaky", (("tier", "unit"),)] == 1
    assert found["testkit_tests_quarantined", (("tier", "integration"),)] == 1
    assert found["testkit_tests_quarantined", (("tier", "unit"),)] == 0


def test_the_duration_histogram_is_cumulative_with_the_sum_and_the_slowest_test() -> None:
    found = samples(render(run_families(RESULTS, RUN)))

    unit = ("tier", "unit")
    assert found["testkit_test_duration_seconds_bucket", (("le", "0.005"), unit)] == 1
    assert found["testkit_test_duration_seconds_bucket", (("le", "0.5"), unit)] == 2
    assert found["testkit_test_duration_seconds_bucket", (("le", "2.5"), unit)] == 3
    assert found["testkit_test_duration_seconds_bucket", (("le", "+Inf"), unit)] == 3
    assert found["testkit_test_duration_seconds_count", (unit,)] == 3
    assert abs(found["testkit_test_duration_seconds_sum", (unit,)] - 1.802) < 1e-9
    assert found["testkit_test_duration_max_seconds", (unit,)] == 1.5


def test_the_run_itself_duration_end_exit_status_and_timeout() -> None:
    found = samples(render(run_families(RESULTS, RUN)))

    assert found["testkit_run_duration_seconds", ()] == 12.5
    assert found["testkit_run_finished_timestamp_seconds", ()] == 112.5
    assert found["testkit_run_exit_status", ()] == 1
    assert found["testkit_test_timeout_seconds", ()] == 300
    assert all(name.startswith("testkit_") for name, _ in found)
    assert not any(name.endswith("_created") for name, _ in found)


def test_the_pushgateway_scope_is_the_runs_tiers() -> None:
    assert scope_of(RESULTS) == "integration+unit"
    assert scope_of([]) == "empty"


def test_gates_add_their_verdicts_and_coverage_to_the_run_metrics_and_replace_old_ones(
    tmp_path: Path,
) -> None:
    metrics = tmp_path / "metrics.prom"
    metrics.write_text(render(run_families(RESULTS, RUN)), encoding="utf-8")
    (tmp_path / "coverage.xml").write_text(
        '<coverage lines-valid="200" lines-covered="150"></coverage>', encoding="utf-8"
    )
    first = [
        GateResult("coverage", "75.0%", ">= 80%", Verdict.FAIL),
        GateResult("security", "0 failed", "0", Verdict.PASS),
    ]
    assert record_gate_metrics(first, tmp_path, 80.0, None) is None
    second = [GateResult("security", "1 failed", "0", Verdict.FAIL)]
    record_gate_metrics(second, tmp_path, 80.0, None)

    found = samples(metrics.read_text(encoding="utf-8"))
    assert found["testkit_gate_passed", (("gate", "security"),)] == 0
    assert ("testkit_gate_passed", (("gate", "coverage"),)) not in found  # the older verdicts
    assert "testkit_coverage_percent" not in {name for name, _ in found}  # coverage not judged
    assert found["testkit_tests", (("outcome", "passed"), ("tier", "unit"))] == 2  # kept

    record_gate_metrics(first, tmp_path, 80.0, None)
    found = samples(metrics.read_text(encoding="utf-8"))
    assert found["testkit_coverage_percent", ()] == 75.0
    assert found["testkit_coverage_threshold_percent", ()] == 80.0
    assert found["testkit_gate_passed", (("gate", "coverage"),)] == 0


def test_coverage_is_unknown_without_a_readable_report(tmp_path: Path) -> None:
    assert coverage_percent(tmp_path / "missing.xml") is None
    broken = tmp_path / "coverage.xml"
    broken.write_text("<coverage", encoding="utf-8")
    assert coverage_percent(broken) is None


def test_a_failed_push_is_one_line_not_an_exception(tmp_path: Path) -> None:
    # Port 1 on loopback refuses at once.
    error = record_gate_metrics([], tmp_path, 80.0, "http://127.0.0.1:1")
    assert error is not None
    assert error.startswith("testkit: pushing metrics to http://127.0.0.1:1 failed")
    assert parse((tmp_path / "metrics.prom").read_text(encoding="utf-8"))  # still written
