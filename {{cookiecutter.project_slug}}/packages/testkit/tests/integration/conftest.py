"""testkit's own integration tests: pytest inside pytest (pytester), servers started, killed and
timed out. All of them are marked `slow`: `make test`, the feedback suite, leaves them to
`make test-all`, CI and test-all-enhanced (the integration tier runs them).

The acceptance tests run pytest inside pytest: `clean_testkit_environment` keeps the outer run's
settings out of the inner runs.

Cleared: every testkit setting's environment variable (read from the settings table, so a new
setting is covered without an edit here), the history's run id, and what the outer run sets for
its own processes (the xdist worker id, PYTEST_ADDOPTS, coverage's subprocess measurement).
A module opts in with `pytestmark = pytest.mark.usefixtures("clean_testkit_environment")`; the
tests that talk to the machine's services keep their URLs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.options import SETTINGS
from testkit.tiers import SLOW_MARKER

HERE = Path(__file__).parent

OUTER_RUN_VARIABLES = (
    "TESTKIT_RUN_ID",
    "PYTEST_XDIST_WORKER",
    "PYTEST_ADDOPTS",
    "COVERAGE_PROCESS_CONFIG",
    "COVERAGE_PROCESS_START",
)


@pytest.fixture
def clean_testkit_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (*(setting.env for setting in SETTINGS), *OUTER_RUN_VARIABLES):
        monkeypatch.delenv(variable, raising=False)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(getattr(pytest.mark, SLOW_MARKER))
