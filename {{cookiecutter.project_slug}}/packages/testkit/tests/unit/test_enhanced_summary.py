"""test-all-enhanced's table: the steps make ran, the shared run's tiers from its JUnit XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.cli import main
from testkit.enhanced import Step, Summary, TierRun, read_steps, render, tier_runs

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.unit.test_a" name="test_one" time="0.5"/>
<testcase classname="packages.testkit.tests.unit.test_b.TestB" name="test_two" time="1.5"/>
<testcase classname="tests.e2e.test_c" name="test_three" time="4.0"><failure message="x"/>
</testcase>
<testcase classname="tests.e2e.test_c" name="test_four" time="2.0"><skipped message="y"/>
</testcase>
<testcase classname="tests.test_top" name="test_outside" time="9.0"/>
</testsuite></testsuites>
"""


def steps_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "test-all-enhanced.tsv"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_each_tier_counts_its_tests_failures_and_time_from_their_folder(tmp_path: Path) -> None:
    junit = tmp_path / "tiers.xml"
    junit.write_text(JUNIT, encoding="utf-8")
    assert tier_runs(junit, ["unit", "e2e", "rag"]) == (
        TierRun("unit", 2, 0, 2.0),
        TierRun("e2e", 2, 1, 6.0),
        TierRun("rag", 0, 0, 0.0),
    )


def test_a_tier_that_failed_or_ran_nothing_fails_the_summary() -> None:
    steps = (Step("tiers", "test-tiers", "PASS", 40), Step("chaos", "chaos", "PASS", 30))
    tiers = (TierRun("unit", 3, 0, 1.0), TierRun("e2e", 2, 1, 6.0), TierRun("rag", 0, 0, 0.0))
    summary = Summary(steps, tiers)
    assert summary.failed == ("e2e", "rag")
    assert summary.seconds == 70
    table = render(summary)
    assert "  e2e             2 tests            FAIL           6s of test time" in table
    assert table.endswith("test-all-enhanced: FAILED: e2e rag")


def test_the_table_shows_every_step_with_its_wall_time_and_the_verdict() -> None:
    steps = (Step("tiers", "test-tiers", "PASS", 40), Step("chaos", "chaos", "FAIL", 30))
    table = render(Summary(steps, (TierRun("unit", 3, 0, 1.0),))).splitlines()
    assert table[1].split() == ["tiers", "test-tiers", "PASS", "40s"]
    assert table[2].split() == ["unit", "3", "tests", "PASS", "1s", "of", "test", "time"]
    assert table[3].split() == ["chaos", "chaos", "FAIL", "30s"]
    assert table[4].split() == ["total", "70s"]
    assert table[5] == "test-all-enhanced: FAILED: chaos"


def test_a_malformed_step_line_names_the_file_line_and_the_expected_form(tmp_path: Path) -> None:
    path = steps_file(tmp_path, "unit\ttest-unit\tPASS\t3", "chaos\tchaos\tMAYBE\t4")
    with pytest.raises(ValueError, match=r"tsv:2: expected 'step<TAB>target<TAB>PASS\|FAIL"):
        read_steps(path)


def test_the_command_exits_1_on_a_failed_tier_and_0_when_all_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "tiers.xml"
    junit.write_text(JUNIT, encoding="utf-8")
    steps = steps_file(tmp_path, "tiers\ttest-tiers\tFAIL\t12", "perf\tperformance-gate\tPASS\t9")
    arguments = ["enhanced-summary", "--steps", str(steps), "--junit", str(junit), "--tiers"]
    assert main([*arguments, "e2e"]) == 1
    assert main([*arguments, "unit"]) == 1  # the step itself failed
    steps = steps_file(tmp_path, "tiers\ttest-tiers\tPASS\t12", "perf\tperformance-gate\tPASS\t9")
    assert main([*arguments, "unit"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("test-all-enhanced: passed")


def test_a_missing_report_is_a_note_after_a_failed_run_and_an_error_after_a_passed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--junit", str(tmp_path / "tiers.xml"), "--tiers", "unit"]
    failed = steps_file(tmp_path, "tiers\ttest-tiers\tFAIL\t3")
    assert main(["enhanced-summary", "--steps", str(failed), *arguments]) == 1
    assert "no readable JUnit XML from the shared run" in capsys.readouterr().out
    passed = steps_file(tmp_path, "tiers\ttest-tiers\tPASS\t3")
    assert main(["enhanced-summary", "--steps", str(passed), *arguments]) == 2
    assert "no readable JUnit XML" in capsys.readouterr().err
