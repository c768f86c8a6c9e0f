"""TEST_TIMEOUT stops a hung test on an xdist worker, and the run's metrics are written.

One real pytest process (pytester's subprocess run) with one xdist worker: the per-test limit
must reach the worker, the failure must name the limit and the knob, and the controller must
write reports/metrics.prom from the workers' reports (prometheus_client parses it back).
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")

HUNG_SUITE = """
import time


def test_hangs():
    time.sleep(30)


def test_quick():
    pass
"""


def test_test_timeout_stops_a_30_second_test_in_seconds_and_names_the_knob(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".toml", pyproject="[tool.testkit]\ntest_timeout = 600\n")
    pytester.makepyfile(**{"tests/unit/test_hung.py": HUNG_SUITE})
    monkeypatch.setenv("TEST_TIMEOUT", "2")
    monkeypatch.setenv("TESTKIT_HISTORY", "off")

    # pytester kills the run after 60 s, so a limit that never fired fails here too.
    result = pytester.runpytest_subprocess("-n", "1", "-p", "no:randomly", timeout=60)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*Failed: Timeout (>2.0s) from pytest-timeout.*per-test limit of 2s (TEST_TIMEOUT=2)*"]
    )

    metrics = (pytester.path / "reports" / "metrics.prom").read_text(encoding="utf-8")
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert found["testkit_tests", (("outcome", "failed"), ("tier", "unit"))] == 1
    assert found["testkit_tests", (("outcome", "passed"), ("tier", "unit"))] == 1
    assert found["testkit_test_timeout_seconds", ()] == 2
    # The hung test ran for its 2 s limit, not its 30 s: stopped in seconds.
    assert 1.5 < found["testkit_test_duration_max_seconds", (("tier", "unit"),)] < 10


def test_the_project_setting_applies_without_the_variable_and_zero_turns_it_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The marker keeps pytest-timeout's alarm out of this in-process run; the configured
    # default is what the plugin set.
    pytester.makefile(".toml", pyproject="[tool.testkit]\ntest_timeout = 42\n")
    pytester.makepyfile(
        test_limit="""
        import os

        import pytest


        @pytest.mark.timeout(0)
        def test_limit(request):
            expected = float(os.environ.get("EXPECTED_TIMEOUT", "42"))
            assert request.config.getoption("timeout") == expected
        """
    )
    monkeypatch.setenv("TESTKIT_METRICS", "off")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)

    monkeypatch.setenv("TEST_TIMEOUT", "0")
    monkeypatch.setenv("EXPECTED_TIMEOUT", "0")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()  # TESTKIT_METRICS=off: no file
