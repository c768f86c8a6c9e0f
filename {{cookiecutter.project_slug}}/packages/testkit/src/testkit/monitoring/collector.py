"""The pytest plugin that collects each test's result and writes the run's metrics at the end.

Registered in the controlling process only (xdist workers forward their reports), as
"testkit-metrics". Per test it keeps a few fields; prometheus_client is imported once, when the
session ends, to write reports/metrics.prom (TESTKIT_METRICS) and push to TESTKIT_PUSHGATEWAY_URL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import cast

import pytest

from testkit.analytics.recorder import QUARANTINE_PROPERTY
from testkit.analytics.recorder import _phase_outcome as phase_outcome
from testkit.monitoring.results import NO_TIER, RunFacts, TestResult
from testkit.tiers import tier_of

PLUGIN_NAME = "testkit-metrics"


@dataclass(slots=True)
class _Pending:
    outcome: str = "passed"
    duration_s: float = 0.0
    quarantined: bool = False
    discarded: bool = False  # an attempt pytest-rerunfailures retries


class MetricsCollector:
    """Collects TestResults; writes and pushes the metrics when the session finishes."""

    def __init__(self, path: Path | None, pushgateway: str | None, timeout_s: float | None) -> None:
        self.path = path
        self.pushgateway = pushgateway
        self.timeout_s = timeout_s
        self.results: list[TestResult] = []
        self.started_at = time.time()
        self._pending: dict[str, _Pending] = {}
        self._retried: set[str] = set()
        self._tiers: dict[str, str] = {}

    def _tier(self, nodeid: str) -> str:
        module = nodeid.partition("::")[0]
        tier = self._tiers.get(module)
        if tier is None:
            tier = self._tiers[module] = tier_of(PurePath(module)) or NO_TIER
        return tier

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started_at = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        pending = self._pending.get(nodeid)
        if pending is None or report.when == "setup":
            pending = self._pending[nodeid] = _Pending()
        outcome: str = report.outcome  # pytest-rerunfailures adds "rerun"
        if outcome == "rerun" or pending.discarded:
            pending.discarded = True
            self._retried.add(nodeid)
            if report.when == "teardown":
                del self._pending[nodeid]
            return
        pending.duration_s += report.duration
        if outcome != "passed" or hasattr(report, "wasxfail"):
            final = phase_outcome(report)
            if final is not None and pending.outcome in {"passed", "skipped", "xfailed"}:
                pending.outcome = final
        if report.user_properties and any(
            name == QUARANTINE_PROPERTY for name, _ in report.user_properties
        ):
            pending.quarantined = True
        if report.when == "teardown":
            del self._pending[nodeid]
            flaky = nodeid in self._retried and pending.outcome == "passed"
            self.results.append(
                TestResult(
                    self._tier(nodeid),
                    pending.outcome,
                    pending.duration_s,
                    flaky,
                    pending.quarantined,
                )
            )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from testkit.monitoring.push import push
        from testkit.monitoring.run_metrics import render, run_families, scope_of

        run = RunFacts(self.started_at, time.time(), int(session.exitstatus), self.timeout_s)
        families = run_families(self.results, run)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(render(families), encoding="utf-8")
        if self.pushgateway:
            error = push(self.pushgateway, scope_of(self.results), families)
            if error is not None:
                reporter = session.config.pluginmanager.get_plugin("terminalreporter")
                if reporter is not None:
                    cast(pytest.TerminalReporter, reporter).write_line(error)
