"""The adversarial tier's failure budget: a failure rate compared with a limit, not all-or-nothing.

Failing tests of the `adversarial` tier are reported as "budgeted" (pytest_report_teststatus).
At the end the rate failed/total is compared with adversarial_budget_percent ([tool.testkit] in
the rootdir pyproject.toml, or --testkit-adversarial-budget): over budget fails the session,
within budget the budgeted failures alone do not. reports/adversarial.json records the result.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import pytest

from testkit import options, report_files
from testkit.project_settings import ProjectSettingsError, read_project_settings

TIER_MARKER = "adversarial"
CATEGORY = "budgeted"
BUDGET_KEY = "adversarial_budget_percent"
REPORT_PATH = report_files.ADVERSARIAL


@dataclass(frozen=True, slots=True)
class BudgetResult:
    total: int
    failed: int
    budget_percent: float
    failures: list[str] = field(default_factory=list)

    @property
    def rate_percent(self) -> float:
        return 100.0 * self.failed / self.total if self.total else 0.0

    @property
    def within_budget(self) -> bool:
        return self.rate_percent <= self.budget_percent

    def summary_line(self) -> str:
        verdict = "within budget" if self.within_budget else "OVER BUDGET: session fails"
        return (
            f"testkit adversarial: {self.failed}/{self.total} failed ({self.rate_percent:.1f}%), "
            f"budget {self.budget_percent:g}%: {verdict}"
        )

    def as_json(self) -> str:
        data = asdict(self) | {
            "rate_percent": round(self.rate_percent, 2),
            "within_budget": self.within_budget,
        }
        return json.dumps(data, indent=2) + "\n"


def parse_budget(raw: object, *, source: str) -> float:
    """A percentage in [0, 100]; anything else is a usage error naming where it came from."""
    try:
        value = float(str(raw))
    except ValueError:
        value = math.nan
    if isinstance(raw, bool) or not 0.0 <= value <= 100.0:
        raise pytest.UsageError(f"{source} must be a number from 0 to 100, got {raw!r}")
    return value


def resolve_budget(config: pytest.Config) -> float:
    """--testkit-adversarial-budget (or its ini key / env), else [tool.testkit], else 15."""
    explicit = options.get_setting(config, options.ADVERSARIAL_BUDGET)
    if explicit is not None:
        return parse_budget(explicit, source=options.ADVERSARIAL_BUDGET.flag)
    try:
        settings = read_project_settings(config.rootpath / "pyproject.toml")
    except ProjectSettingsError as error:
        raise pytest.UsageError(str(error)) from None
    return settings.number(BUDGET_KEY)


def _is_adversarial(report: pytest.TestReport) -> bool:
    return TIER_MARKER in report.keywords


class AdversarialBudget:
    """Counts the tier's call-phase outcomes; silent in runs that hold no adversarial test.

    Registered in the controlling process only (xdist workers send it their reports). Setup
    errors are not budgeted: a broken fixture is not a measured defence.
    """

    def __init__(self, budget_percent: float) -> None:
        self._budget_percent = budget_percent
        self._total = 0
        self._failures: list[str] = []
        self.result: BudgetResult | None = None

    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        if report.when == "call" and report.failed and _is_adversarial(report):
            return CATEGORY, "b", ("BUDGETED", {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" or not _is_adversarial(report) or report.skipped:
            return
        self._total += 1
        if report.failed:
            self._failures.append(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._total == 0:
            return
        result = BudgetResult(
            total=self._total,
            failed=len(self._failures),
            budget_percent=self._budget_percent,
            failures=sorted(self._failures),
        )
        self.result = result
        report_path = session.config.rootpath / REPORT_PATH
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(result.as_json())
        other_failures = session.testsfailed - result.failed
        if not result.within_budget:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif other_failures == 0 and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.result is not None:
            terminalreporter.write_line(self.result.summary_line())
