"""The adversarial failure budget, as users meet it: over budget fails, within budget passes."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")

# Ten adversarial tests; the first `failing` of them fail.
SUITE = """
import pytest

@pytest.mark.parametrize("case", range(10))
def test_case(case):
    assert case >= {failing}
"""


def make_suite(pytester: pytest.Pytester, *, failing: int, budget: int = 15) -> None:
    pytester.makefile(".toml", pyproject=f"[tool.testkit]\nadversarial_budget_percent = {budget}\n")
    pytester.makepyfile(**{"tests/adversarial/test_hostile.py": SUITE.format(failing=failing)})


def test_a_failure_rate_within_budget_passes_and_reports_budgeted_failures(
    pytester: pytest.Pytester,
) -> None:
    make_suite(pytester, failing=1)

    result = pytester.runpytest("-p", "no:randomly", "-v")

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*test_case?0? BUDGETED*",
            "testkit adversarial: 1/10 failed (10.0%), budget 15%: within budget",
            "*9 passed, 1 budgeted*",
        ]
    )
    report = json.loads((pytester.path / "reports" / "adversarial.json").read_text())
    assert (report["total"], report["failed"], report["within_budget"]) == (10, 1, True)


def test_a_failure_rate_over_budget_fails_the_session(pytester: pytest.Pytester) -> None:
    make_suite(pytester, failing=2, budget=15)

    result = pytester.runpytest("-p", "no:randomly")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["testkit adversarial: 2/10 failed (20.0%), budget 15%: OVER BUDGET: session fails"]
    )
    report = json.loads((pytester.path / "reports" / "adversarial.json").read_text())
    assert report["within_budget"] is False
    assert report["rate_percent"] == 20.0


def test_the_command_line_budget_overrides_pyproject(pytester: pytest.Pytester) -> None:
    make_suite(pytester, failing=2, budget=15)

    result = pytester.runpytest("-p", "no:randomly", "--testkit-adversarial-budget=25")

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*2/10 failed (20.0%), budget 25%: within budget"])


def test_a_failure_outside_the_adversarial_tier_still_fails_the_session(
    pytester: pytest.Pytester,
) -> None:
    make_suite(pytester, failing=1)
    pytester.makepyfile(**{"tests/unit/test_plain.py": "def test_plain(): assert False"})

    result = pytester.runpytest("-p", "no:randomly")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=9, failed=1)


def test_a_budget_that_is_not_a_percentage_is_refused_naming_the_option(
    pytester: pytest.Pytester,
) -> None:
    make_suite(pytester, failing=0)

    result = pytester.runpytest("--testkit-adversarial-budget=lots")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--testkit-adversarial-budget must be a number from 0 to 100, got 'lots'*"]
    )


def test_runs_without_adversarial_tests_say_nothing_about_the_budget(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(**{"tests/unit/test_plain.py": "def test_plain(): pass"})

    result = pytester.runpytest("-p", "no:randomly")

    assert result.ret == pytest.ExitCode.OK
    assert "testkit adversarial" not in result.stdout.str()
    assert not (pytester.path / "reports" / "adversarial.json").exists()
