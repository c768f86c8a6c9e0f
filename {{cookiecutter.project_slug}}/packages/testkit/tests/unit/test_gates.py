"""The quality gates' decisions, each from a hand-written report file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from testkit import gates, gates_report
from testkit.cli import main
from testkit.diff_coverage import choose_base
from testkit.gates import GateResult, Verdict
from testkit.project_settings import ProjectSettingsError

TODAY = dt.date(2026, 6, 1)


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def junit(path: Path, *, tests: int, failures: int = 0, errors: int = 0, skipped: int = 0) -> Path:
    cases = "".join(
        f'<testcase classname="tests.security.test_x" name="test_{index}">'
        + ("<failure message='leak'/>" if index < failures else "")
        + "</testcase>"
        for index in range(tests)
    )
    path.write_text(
        f'<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="{tests}" '
        f'failures="{failures}" errors="{errors}" skipped="{skipped}">{cases}'
        "</testsuite></testsuites>",
        encoding="utf-8",
    )
    return path


def cobertura(path: Path, *, valid: int, covered: int) -> Path:
    path.write_text(
        f'<?xml version="1.0" ?><coverage lines-valid="{valid}" lines-covered="{covered}" '
        f'line-rate="{covered / valid if valid else 0:.4f}"></coverage>',
        encoding="utf-8",
    )
    return path


# --- missing and unreadable inputs fail, naming the file and its producer -------------------


@pytest.mark.parametrize(
    ("name", "producer"),
    [
        ("security", "security-gate"),
        ("flakiness", "flakiness-gate"),
        ("quarantine", "flakiness-gate"),
        ("performance", "performance-gate"),
        ("coverage", "coverage-gate"),
        ("diff-coverage", "coverage-gate"),
        ("adversarial", "adversarial-gate"),
        ("mutation", "mutation-gate"),
    ],
)
def test_a_gate_whose_report_is_missing_fails_naming_the_file_and_the_target(
    tmp_path: Path, name: str, producer: str
) -> None:
    inputs = gates.Inputs(reports=tmp_path, quarantine=tmp_path / "none.toml", today=TODAY)

    (result,) = gates.evaluate([name], inputs, gates.Limits())

    assert result.verdict is Verdict.FAIL
    assert str(tmp_path) in result.detail
    assert f"run `make {producer}`" in result.detail


def test_a_report_that_is_not_json_fails_and_says_so(tmp_path: Path) -> None:
    report = tmp_path / "adversarial.json"
    report.write_text("{not json", encoding="utf-8")

    result = gates.adversarial_gate(report, 15)

    assert result.verdict is Verdict.FAIL
    assert result.measured == "unreadable"
    assert "not valid JSON" in result.detail


# --- security -------------------------------------------------------------------------------


def test_security_passes_when_tests_ran_and_none_failed(tmp_path: Path) -> None:
    result = gates.security_gate(junit(tmp_path / "s.xml", tests=12, skipped=2))

    assert result == GateResult(
        "security", "10 run, 0 failed", "0 failed, >0 run", Verdict.PASS, "2 skipped"
    )


def test_security_fails_on_a_failure_and_names_the_failing_test(tmp_path: Path) -> None:
    result = gates.security_gate(junit(tmp_path / "s.xml", tests=5, failures=1))

    assert result.verdict is Verdict.FAIL
    assert result.measured == "5 run, 1 failed"
    assert "tests.security.test_x::test_0" in result.detail


def test_security_fails_when_every_test_was_skipped(tmp_path: Path) -> None:
    result = gates.security_gate(junit(tmp_path / "s.xml", tests=4, skipped=4))

    assert result.verdict is Verdict.FAIL
    assert "no security test ran" in result.detail


# --- coverage -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("covered", "verdict"), [(800, Verdict.PASS), (799, Verdict.FAIL), (1000, Verdict.PASS)]
)
def test_coverage_compares_the_line_rate_with_the_threshold_inclusively(
    tmp_path: Path, covered: int, verdict: Verdict
) -> None:
    result = gates.coverage_gate(cobertura(tmp_path / "c.xml", valid=1000, covered=covered), 80)

    assert result.verdict is verdict
    assert result.limit == ">= 80%"


def test_coverage_below_the_threshold_says_how_many_lines_are_missing(tmp_path: Path) -> None:
    result = gates.coverage_gate(cobertura(tmp_path / "c.xml", valid=200, covered=150), 80)

    assert result.measured == "75.0%"
    assert "10 more lines must be covered" in result.detail


def test_coverage_of_nothing_fails(tmp_path: Path) -> None:
    result = gates.coverage_gate(cobertura(tmp_path / "c.xml", valid=0, covered=0), 80)

    assert result.verdict is Verdict.FAIL


def diff_report(tmp_path: Path, **overrides: object) -> Path:
    data: dict[str, object] = {
        "total_percent_covered": 50.0,
        "total_num_lines": 10,
        "total_num_violations": 5,
        "compare_branch": "origin/main",
        "note": "",
    }
    return write_json(tmp_path / "diff-coverage.json", data | overrides)


def test_diff_coverage_below_the_threshold_fails_naming_the_base(tmp_path: Path) -> None:
    result = gates.diff_coverage_gate(diff_report(tmp_path), 80)

    assert result.verdict is Verdict.FAIL
    assert result.detail == "5/10 changed lines covered vs origin/main"


def test_diff_coverage_with_no_changed_lines_passes_and_says_why(tmp_path: Path) -> None:
    report = diff_report(
        tmp_path,
        total_percent_covered=100.0,
        total_num_lines=0,
        total_num_violations=0,
        compare_branch="HEAD",
        note="origin/main not found: compared the uncommitted changes with HEAD",
    )

    result = gates.diff_coverage_gate(report, 80)

    assert result.verdict is Verdict.PASS
    assert result.measured == "no changed lines"
    assert "origin/main not found" in result.detail


def test_diff_coverage_outside_a_git_repository_fails_with_the_reason(tmp_path: Path) -> None:
    report = write_json(tmp_path / "d.json", {"error": "not a git repository: diff coverage"})

    result = gates.diff_coverage_gate(report, 80)

    assert result.verdict is Verdict.FAIL
    assert result.detail == "not a git repository: diff coverage"


def test_the_diff_base_falls_back_to_head_with_a_note() -> None:
    choice = choose_base(
        "origin/main", is_repository=True, requested_exists=False, head_exists=True
    )

    assert choice.ref == "HEAD"
    assert "origin/main not found" in choice.note


def test_the_diff_base_is_the_requested_ref_when_it_exists() -> None:
    choice = choose_base("main", is_repository=True, requested_exists=True, head_exists=True)

    assert (choice.ref, choice.note, choice.error) == ("main", "", "")


@pytest.mark.parametrize(
    ("is_repository", "expected"),
    [(False, "not a git repository"), (True, "no commit to compare with")],
)
def test_no_diff_base_is_an_error_never_a_pass(is_repository: bool, expected: str) -> None:
    choice = choose_base(
        "origin/main", is_repository=is_repository, requested_exists=False, head_exists=False
    )

    assert choice.ref is None
    assert expected in choice.error


# --- adversarial ----------------------------------------------------------------------------


@pytest.mark.parametrize(("failed", "verdict"), [(3, Verdict.PASS), (4, Verdict.FAIL)])
def test_adversarial_judges_the_failure_rate_against_the_budget(
    tmp_path: Path, failed: int, verdict: Verdict
) -> None:
    report = write_json(
        tmp_path / "a.json",
        {"total": 20, "failed": failed, "rate_percent": 100 * failed / 20, "budget_percent": 15},
    )

    result = gates.adversarial_gate(report, 15)

    assert result.verdict is verdict
    assert result.detail == f"{failed}/20 failed"


def test_adversarial_run_with_no_test_fails(tmp_path: Path) -> None:
    report = write_json(tmp_path / "a.json", {"total": 0, "failed": 0, "rate_percent": 0.0})

    assert gates.adversarial_gate(report, 15).verdict is Verdict.FAIL


# --- performance ----------------------------------------------------------------------------


def test_performance_regression_fails_naming_the_metrics(tmp_path: Path) -> None:
    report = write_json(
        tmp_path / "p.json",
        {
            "verdict": "REGRESSION",
            "profile": "smoke",
            "rounds": {"current": 5},
            "regressions": ["GET /search p95_ms"],
            "inconclusive": [],
        },
    )

    result = gates.performance_gate(report)

    assert result.verdict is Verdict.FAIL
    assert result.detail.startswith("regressed: GET /search p95_ms")


@pytest.mark.parametrize("raw", ["PASS", "INCONCLUSIVE"])
def test_performance_without_a_significant_regression_passes(tmp_path: Path, raw: str) -> None:
    report = write_json(tmp_path / "p.json", {"verdict": raw, "inconclusive": ["total p99_ms"]})

    assert gates.performance_gate(report).verdict is Verdict.PASS


def test_performance_inconclusive_on_another_machine_passes_saying_why(tmp_path: Path) -> None:
    reason = "machine differs: CPU contention 1.01 -> 1.50"
    report = write_json(tmp_path / "p.json", {"verdict": "INCONCLUSIVE", "reason": reason})

    result = gates.performance_gate(report)

    assert result.verdict is Verdict.PASS
    assert result.detail == f"{reason}; for a verdict: make performance-gate BASE=<git ref>"


def test_performance_with_an_unknown_verdict_fails(tmp_path: Path) -> None:
    result = gates.performance_gate(write_json(tmp_path / "p.json", {"verdict": "OK"}))

    assert result.verdict is Verdict.FAIL
    assert "'verdict' must be PASS, REGRESSION or INCONCLUSIVE, got 'OK'" in result.detail


# --- flakiness and quarantine ---------------------------------------------------------------


def flakiness_report(tmp_path: Path, **overrides: object) -> Path:
    data: dict[str, object] = {
        "flaky_tests": 1,
        "tests": 50,
        "runs": 12,
        "flaky_rate_percent": 2.0,
        "missing_quarantine": [],
    }
    return write_json(tmp_path / "flakiness-gate.json", data | overrides)


@pytest.mark.parametrize(("rate", "verdict"), [(5.0, Verdict.PASS), (5.1, Verdict.FAIL)])
def test_flakiness_judges_the_flaky_rate_against_the_budget(
    tmp_path: Path, rate: float, verdict: Verdict
) -> None:
    result = gates.flakiness_gate(flakiness_report(tmp_path, flaky_rate_percent=rate), 5)

    assert result.verdict is verdict


def quarantine_file(tmp_path: Path, expires: str) -> Path:
    path = tmp_path / "quarantine.toml"
    path.write_text(
        '[[quarantine]]\nnodeid = "tests/unit/test_a.py::test_b"\nreason = "races"\n'
        f'owner = "jane@example.com"\nexpires = "{expires}"\n',
        encoding="utf-8",
    )
    return path


def test_an_expired_quarantine_entry_fails_naming_it_and_its_owner(tmp_path: Path) -> None:
    result = gates.quarantine_gate(
        quarantine_file(tmp_path, "2026-05-31"), flakiness_report(tmp_path), TODAY
    )

    assert result.verdict is Verdict.FAIL
    expected = "tests/unit/test_a.py::test_b expired 2026-05-31 (owner jane@example.com)"
    assert result.detail == expected


def test_a_quarantine_entry_expiring_today_still_passes(tmp_path: Path) -> None:
    result = gates.quarantine_gate(
        quarantine_file(tmp_path, "2026-06-01"), flakiness_report(tmp_path), TODAY
    )

    assert result.verdict is Verdict.PASS
    assert result.measured == "0 expired, 0 unknown of 1"


def test_a_quarantine_entry_naming_no_test_fails(tmp_path: Path) -> None:
    report = flakiness_report(tmp_path, missing_quarantine=["tests/unit/test_gone.py::test_x"])

    result = gates.quarantine_gate(quarantine_file(tmp_path, "2030-01-01"), report, TODAY)

    assert result.verdict is Verdict.FAIL
    assert "tests/unit/test_gone.py::test_x names no collected test" in result.detail


# --- limits ---------------------------------------------------------------------------------


def test_limits_come_from_tool_testkit_with_defaults_for_missing_keys(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.testkit]\ncoverage_threshold = 90\n", encoding="utf-8")

    assert gates.read_limits(pyproject) == gates.Limits(90.0, 5.0, 15.0)


@pytest.mark.parametrize("raw", ['"eighty"', "101", "-1", "true"])
def test_a_bad_limit_is_one_line_naming_the_key_and_the_range(tmp_path: Path, raw: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool.testkit]\nflaky_budget_percent = {raw}\n", encoding="utf-8")

    expected = r"flaky_budget_percent .* must be a number from 0 to 100"
    with pytest.raises(ProjectSettingsError, match=expected):
        gates.read_limits(pyproject)


# --- output ---------------------------------------------------------------------------------

RESULTS = [
    GateResult("security", "10 run, 0 failed", "0 failed, >0 run", Verdict.PASS),
    GateResult("coverage", "75.0%", ">= 80%", Verdict.FAIL, "150/200 lines | partly"),
]


def test_the_table_lists_every_gate_then_the_details_then_the_outcome() -> None:
    lines = gates_report.render_table(RESULTS).splitlines()

    assert lines[0].split() == ["gate", "measured", "limit", "verdict"]
    assert lines[2].split("  ")[0] == "security"
    assert lines[2].endswith("  PASS")
    assert lines[3].split() == ["coverage", "75.0%", ">=", "80%", "FAIL"]
    assert "coverage: 150/200 lines | partly" in lines
    assert lines[-1] == "quality gates: FAILED (coverage)"


def test_the_step_summary_is_a_markdown_table_with_pipes_escaped() -> None:
    markdown = gates_report.render_markdown(RESULTS)

    assert "| gate | measured | limit | verdict | detail |" in markdown
    assert "| coverage | 75.0% | >= 80% | :x: FAIL | 150/200 lines \\| partly |" in markdown


def test_the_command_writes_gates_json_appends_the_step_summary_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    junit(reports / "security.xml", tests=3)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    exit_code = main(["gates", "security", "coverage", "--root", str(tmp_path)])

    assert exit_code == 1
    written = json.loads((reports / "gates.json").read_text(encoding="utf-8"))
    assert written["passed"] is False
    assert [(g["gate"], g["verdict"]) for g in written["gates"]] == [
        ("security", "PASS"),
        ("coverage", "FAIL"),
    ]
    step_summary = summary.read_text(encoding="utf-8")
    assert step_summary.startswith("earlier step\n## Quality gates")
    assert "| security | 3 run, 0 failed |" in step_summary
    assert "coverage.xml is missing: run `make coverage-gate`" in capsys.readouterr().out


def test_the_command_passes_when_every_selected_gate_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    junit(tmp_path / "security.xml", tests=3)

    assert main(["gates", "security", "--reports", str(tmp_path), "--root", str(tmp_path)]) == 0


def test_the_command_rejects_an_unknown_gate_naming_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gates", "speed", "--root", str(tmp_path)]) == 2

    assert "unknown gate 'speed'; choose from security, flakiness" in capsys.readouterr().err


def test_the_command_rejects_a_bad_limit_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.testkit]\ncoverage_threshold = 180\n")

    assert main(["gates", "--root", str(tmp_path)]) == 2

    output = capsys.readouterr().err.strip()
    assert output.endswith(
        "coverage_threshold in "
        + str(tmp_path / "pyproject.toml")
        + " must be a number from 0 to 100, got 180"
    )
    assert "\n" not in output
