"""TEST_TIMEOUT: a per-test time limit, so a hung test fails instead of hanging the whole run.

pytest-timeout does the work (SIGALRM on the main thread, stacks dumped on expiry); testkit only
chooses its limit, from TEST_TIMEOUT (or --testkit-timeout, ini testkit_timeout), else
[tool.testkit] test_timeout (300 s), and names that knob in the failure. Every process applies
it: each xdist worker runs this plugin's pytest_configure with the same environment. pytest-
timeout's own knobs still win where given (--timeout, PYTEST_TIMEOUT, ini `timeout`, the
`@pytest.mark.timeout(seconds)` marker).
"""

from __future__ import annotations

import math
import os
from collections.abc import Generator
from dataclasses import dataclass

import pytest

from testkit import options
from testkit.project_settings import ProjectSettingsError, read_project_settings

# pytest-timeout's failure message starts with this ("Timeout (>2.0s) from pytest-timeout.").
PYTEST_TIMEOUT_PREFIX = "Timeout (>"


@dataclass(frozen=True, slots=True)
class TimeoutChoice:
    """The limit in force (0.0: none) and where it came from."""

    seconds: float
    source: str

    @property
    def hint(self) -> str:
        """What a timed-out test's failure adds: the limit and how to change it."""
        return (
            f"testkit: over the per-test limit of {self.seconds:g}s ({self.source}); "
            f"raise TEST_TIMEOUT (0: no limit) or mark the test @pytest.mark.timeout(seconds)"
        )


def resolve_timeout(raw: str | None, project_default: float, project_source: str) -> TimeoutChoice:
    """TEST_TIMEOUT when given (a number of seconds >= 0), else [tool.testkit] test_timeout."""
    if raw is None:
        return TimeoutChoice(project_default, f"[tool.testkit] test_timeout, {project_source}")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise pytest.UsageError(
            f"{options.TIMEOUT.env} must be a number of seconds >= 0 (0: no limit), got {raw!r}"
        )
    return TimeoutChoice(seconds, f"{options.TIMEOUT.env}={raw}")


def _pytest_timeout_configured(config: pytest.Config) -> bool:
    """pytest-timeout's own knobs were given: leave its limit alone."""
    return (
        config.getoption("timeout", default=None) is not None
        or bool(os.environ.get("PYTEST_TIMEOUT", "").strip())
        or bool(config.getini("timeout"))
    )


class TimeoutPlugin:
    """Adds the knob to the failure of a test that pytest-timeout stopped."""

    def __init__(self, choice: TimeoutChoice) -> None:
        self.choice = choice

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        excinfo = call.excinfo
        if excinfo is not None and isinstance(excinfo.value, pytest.fail.Exception):
            failure = excinfo.value
            message = failure.msg or ""
            if message.startswith(PYTEST_TIMEOUT_PREFIX) and self.choice.hint not in message:
                failure.msg = f"{message} {self.choice.hint}"
        return (yield)


def configure_timeout(config: pytest.Config) -> TimeoutChoice | None:
    """Set pytest-timeout's limit from TEST_TIMEOUT / test_timeout; None when it is not loaded.

    Must run before pytest-timeout's own pytest_configure (plugin.py's is tryfirst), which reads
    the limit once.
    """
    if not config.pluginmanager.hasplugin("timeout"):
        return None
    try:
        settings = read_project_settings(config.rootpath / "pyproject.toml")
    except ProjectSettingsError as error:
        raise pytest.UsageError(str(error)) from None
    choice = resolve_timeout(
        options.get_setting(config, options.TIMEOUT),
        settings.number("test_timeout"),
        settings.source("test_timeout"),
    )
    if not _pytest_timeout_configured(config):
        config.option.timeout = choice.seconds
    config.pluginmanager.register(TimeoutPlugin(choice), "testkit-timeout")
    return choice
