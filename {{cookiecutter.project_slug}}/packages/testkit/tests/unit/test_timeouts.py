"""TEST_TIMEOUT's resolution: the environment over [tool.testkit] test_timeout, checked input."""

from __future__ import annotations

import pytest

from testkit.project_settings import DEFAULTS, ProjectSettingsError, project_settings_from
from testkit.timeouts import resolve_timeout


def test_unset_takes_the_project_setting_and_names_it() -> None:
    choice = resolve_timeout(None, 300.0, "default")
    assert choice.seconds == 300.0
    assert "[tool.testkit] test_timeout" in choice.source


@pytest.mark.parametrize(("raw", "seconds"), [("2", 2.0), ("0", 0.0), ("0.5", 0.5)])
def test_test_timeout_overrides_and_zero_means_no_limit(raw: str, seconds: float) -> None:
    choice = resolve_timeout(raw, 300.0, "default")
    assert choice.seconds == seconds
    assert choice.source == f"TEST_TIMEOUT={raw}"
    assert "TEST_TIMEOUT" in choice.hint


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "inf", ""])
def test_a_bad_value_is_a_usage_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(pytest.UsageError, match=r"TEST_TIMEOUT must be a number of seconds >= 0"):
        resolve_timeout(raw, 300.0, "default")


def test_the_project_default_is_300_seconds_and_its_range_is_checked() -> None:
    assert DEFAULTS.number("test_timeout") == 300.0
    assert project_settings_from({"test_timeout": 0}, "x").number("test_timeout") == 0.0
    with pytest.raises(ProjectSettingsError, match="test_timeout in x must be a number from 0"):
        project_settings_from({"test_timeout": -5}, "x")
