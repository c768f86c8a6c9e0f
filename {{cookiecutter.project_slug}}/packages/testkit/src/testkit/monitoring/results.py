"""What the metrics are made of: one record per test and one per run (no heavy imports here:
the collector builds these during the run, prometheus_client is loaded only to render them)."""

from __future__ import annotations

from dataclasses import dataclass

# The outcomes a test can end with (testkit.analytics.recorder's vocabulary); each tier that ran
# gets a series per outcome, zeros included, so a panel or alert always finds its series.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
# Tests outside the tier folders (tests/<tier>/, packages/*/tests/<tier>/).
NO_TIER = "none"


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test's final attempt: tier, outcome, setup+call+teardown seconds, and whether it
    passed only after a retry (flaky in this run) or ran under quarantine."""

    __test__ = False  # not a pytest test class, despite the name

    tier: str
    outcome: str
    duration_s: float
    flaky: bool = False
    quarantined: bool = False


@dataclass(frozen=True, slots=True)
class RunFacts:
    """The session: wall-clock start and end (epoch seconds), exit status, the per-test limit."""

    started_at: float
    finished_at: float
    exit_status: int
    timeout_s: float | None = None
