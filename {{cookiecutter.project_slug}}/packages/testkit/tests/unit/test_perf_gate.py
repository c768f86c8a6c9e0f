from __future__ import annotations

from pathlib import Path

import pytest

from testkit.perf.figures import Figures, WindowFigures
from testkit.perf.gate import (
    PerfLimits,
    PerfVerdict,
    compare_pairs,
    compare_to_baseline,
    load_limits,
)
from testkit.perf.render import format_table
from testkit.project_settings import ProjectSettingsError

pytest.importorskip("scipy", reason="the gate's statistics need the testkit[perf] extra")

LIMITS = PerfLimits(percent={"p50_ms": 10.0, "p95_ms": 15.0, "p99_ms": 20.0, "rps": 5.0})


def figures(p50: float, *, requests: int = 1_000, rps: float = 100.0, failures: int = 0) -> Figures:
    return Figures(requests, failures, failures / requests, rps, p50, p50 * 3, p50 * 5)


def round_of(
    search_p50: float, ask_p50: float = 20.0, *, rps: float = 100.0, failures: int = 0
) -> WindowFigures:
    return WindowFigures(
        duration_s=10.0,
        total=figures(min(search_p50, ask_p50), rps=rps, requests=2_000, failures=failures),
        endpoints={"GET /search": figures(search_p50), "POST /ask": figures(ask_p50)},
    )


NOISY = [10.0, 10.4, 9.7, 10.2, 9.9, 10.1]


def verdicts(result_checks: object) -> dict[str, PerfVerdict]:
    return {check.label: check.verdict for check in result_checks}  # type: ignore[attr-defined]


def test_unchanged_rounds_pass() -> None:
    result = compare_to_baseline(
        [round_of(v) for v in NOISY], [round_of(v) for v in reversed(NOISY)], LIMITS
    )

    assert result.verdict is PerfVerdict.PASS


def test_a_consistently_slower_endpoint_is_a_regression_naming_it() -> None:
    result = compare_to_baseline(
        [round_of(v) for v in NOISY], [round_of(v * 1.5) for v in NOISY], LIMITS
    )

    assert result.verdict is PerfVerdict.REGRESSION
    assert "GET /search p50_ms" in [check.label for check in result.regressions]
    assert all(not check.label.startswith("POST /ask") for check in result.regressions)


def test_a_change_within_the_limit_passes_even_when_significant() -> None:
    result = compare_to_baseline(
        [round_of(v) for v in NOISY], [round_of(v * 1.05) for v in NOISY], LIMITS
    )

    assert verdicts(result.checks)["GET /search p50_ms"] is PerfVerdict.PASS


def test_beyond_the_limit_without_significance_is_inconclusive() -> None:
    current = [8.0, 14.0, 9.0, 15.0, 10.0, 16.0]  # median +19%, but rounds all over the place

    result = compare_to_baseline(
        [round_of(v) for v in NOISY], [round_of(v) for v in current], LIMITS
    )

    assert verdicts(result.checks)["GET /search p50_ms"] is PerfVerdict.INCONCLUSIVE
    assert result.verdict is PerfVerdict.INCONCLUSIVE


def test_throughput_regresses_when_it_drops_beyond_its_limit() -> None:
    result = compare_to_baseline(
        [round_of(10.0, rps=100.0 + i) for i in range(6)],
        [round_of(10.0, rps=80.0 + i) for i in range(6)],
        LIMITS,
    )

    assert verdicts(result.checks)["total rps"] is PerfVerdict.REGRESSION


def test_errors_beyond_a_percentage_point_regress_outright() -> None:
    result = compare_to_baseline(
        [round_of(10.0) for _ in range(5)], [round_of(10.0, failures=100) for _ in range(5)], LIMITS
    )

    assert verdicts(result.checks)["total error_rate"] is PerfVerdict.REGRESSION


def test_percentiles_of_endpoints_with_few_requests_are_skipped() -> None:
    few = WindowFigures(10.0, figures(10.0), {"GET /rare": figures(10.0, requests=50)})
    slow = WindowFigures(10.0, figures(10.0), {"GET /rare": figures(50.0, requests=50)})

    result = compare_to_baseline([few] * 5, [slow] * 5, LIMITS)
    checks = verdicts(result.checks)

    assert checks["GET /rare p50_ms"] is PerfVerdict.REGRESSION  # 50 requests: enough for a median
    assert checks["GET /rare p95_ms"] is PerfVerdict.SKIPPED  # 100 needed
    assert checks["GET /rare p99_ms"] is PerfVerdict.SKIPPED  # 500 needed


def test_paired_rounds_cancel_what_the_machine_did_in_each_pair() -> None:
    # The machine's load swings 3x between pairs; within each pair the candidate is 30% slower.
    # Nine pairs: with a Holm correction over the metrics, seven (p = 1/128) are too few.
    load = [1.0, 3.0, 1.5, 2.5, 1.2, 2.8, 1.1, 2.0, 1.4]
    base = [round_of(10.0 * f) for f in load]
    candidate = [round_of(13.0 * f, 20.0 * f) for f in load]

    paired = compare_pairs(base, candidate, LIMITS)
    unpaired = compare_to_baseline(base, candidate, LIMITS)

    assert verdicts(paired.checks)["GET /search p50_ms"] is PerfVerdict.REGRESSION
    assert verdicts(unpaired.checks)["GET /search p50_ms"] is not PerfVerdict.REGRESSION


def test_paired_unchanged_code_passes() -> None:
    load = [1.0, 3.0, 1.5, 2.5, 1.2, 2.8]
    result = compare_pairs(
        [round_of(10.0 * f) for f in load],
        [round_of(10.0 * f * (1.02 if i % 2 else 0.98)) for i, f in enumerate(load)],
        LIMITS,
    )

    assert result.verdict is PerfVerdict.PASS


def test_a_pass_near_the_limit_that_the_pairs_do_not_show_within_it_is_undecided() -> None:
    # Median +8% of a +10% limit, the pairs from -2% to +25%: a true +20% could look like this.
    ratios = [1.08, 0.98, 1.25, 1.02, 1.20, 1.08]

    result = compare_pairs(
        [round_of(10.0) for _ in ratios], [round_of(10.0 * r) for r in ratios], LIMITS
    )

    undecided = [check.label for check in result.undecided]
    assert result.verdict is PerfVerdict.PASS
    assert "GET /search p50_ms" in undecided
    assert not any(label.startswith("POST /ask") for label in undecided)  # unchanged
    assert result.as_dict()["undecided"] == undecided


def test_a_pass_the_pairs_show_within_the_limit_is_decided() -> None:
    # Median +8% again, but every pair agrees: within +10% is significant.
    ratios = [1.07, 1.08, 1.075, 1.085, 1.07, 1.08]

    result = compare_pairs(
        [round_of(10.0) for _ in ratios], [round_of(10.0 * r) for r in ratios], LIMITS
    )

    search = verdicts(result.checks)["GET /search p50_ms"]
    assert search is PerfVerdict.PASS
    assert result.undecided == ()


def test_a_pass_under_half_the_limit_is_decided_however_noisy() -> None:
    ratios = [1.03, 0.85, 1.25, 0.92, 1.15, 1.04]  # median +3.5% of +10%

    result = compare_pairs(
        [round_of(10.0) for _ in ratios], [round_of(10.0 * r) for r in ratios], LIMITS
    )

    assert result.verdict is PerfVerdict.PASS
    assert result.undecided == ()


def test_the_baseline_gate_has_no_undecided_passes() -> None:
    result = compare_to_baseline(
        [round_of(v) for v in NOISY], [round_of(v * 1.08) for v in reversed(NOISY)], LIMITS
    )

    assert result.undecided == ()


def test_pairs_must_match() -> None:
    with pytest.raises(ValueError, match="as many base rounds as candidate rounds: 2 vs 1"):
        compare_pairs([round_of(1.0)] * 2, [round_of(1.0)], LIMITS)


def test_table_names_each_metric_with_baseline_current_change_limit_and_verdict() -> None:
    result = compare_to_baseline(
        [round_of(v) for v in NOISY], [round_of(v * 1.5) for v in NOISY], LIMITS
    )

    table = format_table(result)

    assert table.splitlines()[0].split() == [
        "metric",
        "baseline",
        "current",
        "change",
        "limit",
        "verdict",
    ]
    search = next(line for line in table.splitlines() if line.startswith("GET /search p50_ms"))
    assert "+50.0%" in search
    assert "+10%" in search
    assert "REGRESSION (p=" in search
    assert table.splitlines()[-1].startswith("performance gate: REGRESSION")


def test_limits_come_from_tool_testkit(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.testkit]\nperf_p50_pct = 7\nperf_throughput_pct = 3\n")

    limits = load_limits(pyproject)

    assert limits.percent == {"p50_ms": 7.0, "p95_ms": 15.0, "p99_ms": 20.0, "rps": 3.0}


def test_a_bad_limit_is_refused_naming_the_key(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.testkit]\nperf_p95_pct = "fast"\n')

    with pytest.raises(ProjectSettingsError, match=r"perf_p95_pct .* must be a number above 0"):
        load_limits(pyproject)


@pytest.mark.parametrize(
    ("key", "value", "highest"),
    [
        ("perf_p95_pct", 0, "1000"),
        ("perf_p50_pct", 1001, "1000"),
        ("perf_throughput_pct", 101, "100"),
    ],
)
def test_a_limit_outside_its_range_is_refused_with_the_range(
    tmp_path: Path, key: str, value: int, highest: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool.testkit]\n{key} = {value}\n")

    with pytest.raises(ProjectSettingsError, match=rf"{key} .* above 0 to {highest}, got {value}"):
        load_limits(pyproject)


def test_the_largest_limits_are_accepted(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.testkit]\nperf_p95_pct = 1000\nperf_throughput_pct = 100\n")

    assert load_limits(pyproject).percent["rps"] == 100.0


def test_rounds_too_thin_to_judge_are_inconclusive_not_a_pass() -> None:
    thin = WindowFigures(3.0, figures(10.0, requests=4), {})

    result = compare_to_baseline([thin] * 5, [thin] * 5, LIMITS)

    assert result.verdict is PerfVerdict.INCONCLUSIVE
    assert "total p50_ms (too few requests)" in result.as_dict()["inconclusive"]


def test_one_metric_barely_beyond_its_limit_among_many_is_not_a_regression() -> None:
    # Seven pairs, all of them worse for POST /ask alone: p = 1/128 for that metric, below
    # alpha but not below alpha / (number of metrics tested): Holm keeps it INCONCLUSIVE.
    load = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02]
    base = [round_of(10.0 * f, 10.0 * f) for f in load]
    candidate = [round_of(10.0 * f, 13.0 * f) for f in load]

    checks = verdicts(compare_pairs(base, candidate, LIMITS).checks)

    tested = [label for label, verdict in checks.items() if verdict is not PerfVerdict.SKIPPED]
    assert len(tested) > 2
    assert PerfVerdict.REGRESSION not in checks.values()
