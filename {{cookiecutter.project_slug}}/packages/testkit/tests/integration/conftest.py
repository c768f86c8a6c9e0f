"""The acceptance tests run pytest inside pytest (pytester): `clean_testkit_environment` keeps
the outer run's settings out of the inner runs.

Cleared: every testkit setting's environment variable (read from the settings table, so a new
setting is covered without an edit here), the history's run id, and what the outer run sets for
its own processes (the xdist worker id, PYTEST_ADDOPTS, coverage's subprocess measurement).
A module opts in with `pytestmark = pytest.mark.usefixtures("clean_testkit_environment")`; the
tests that talk to the machine's services keep their URLs.
"""

from __future__ import annotations

import pytest

from testkit.options import SETTINGS

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
