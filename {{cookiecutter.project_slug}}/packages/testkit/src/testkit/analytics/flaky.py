"""Flakiness: which tests passed and failed on the same code, and how often they fail.

A test is flaky when it both passed and failed on one code fingerprint (the code did not
change, the outcome did). Evidence comes from the history (every recorded run) and from
deliberate reruns (`make flakiness-report`); the failure rate and its confidence interval come
from the reruns alone, since history is biased: a test becomes a suspect because it failed.

    flaky    passed and failed on the current fingerprint
    broken   failed every time it ran on the current fingerprint
    healthy  never failed on the current fingerprint
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from testkit.analytics.history import OutcomeCounts
from testkit.analytics.quarantine import QuarantineEntry, expired_entries, missing_entries

CONFIDENCE_LEVEL = 0.95
DEFAULT_RUNS = 30
GATE_WINDOW_RUNS = 50  # the flaky rate of the gate is measured over the newest runs


@dataclass(frozen=True, slots=True)
class RateEstimate:
    failures: int
    runs: int
    rate: float
    low: float
    high: float


def estimate_failure_rate(
    failures: int, runs: int, confidence: float = CONFIDENCE_LEVEL
) -> RateEstimate:
    """The failure rate with its Wilson score interval (scipy.stats.binomtest)."""
    if runs == 0:
        return RateEstimate(0, 0, 0.0, 0.0, 1.0)
    from scipy.stats import binomtest  # the analytics extra; only the report needs it

    interval = binomtest(failures, runs).proportion_ci(confidence_level=confidence, method="wilson")
    return RateEstimate(failures, runs, failures / runs, float(interval.low), float(interval.high))


@dataclass(frozen=True, slots=True)
class Classification:
    nodeid: str
    verdict: str  # flaky | broken | healthy
    rerun_passes: int
    rerun_failures: int
    history_passes: int
    history_failures: int
    reason: str


def classify(
    nodeid: str,
    *,
    rerun_passes: int,
    rerun_failures: int,
    history: OutcomeCounts | None = None,
) -> Classification:
    """Decide from reruns plus the history on the same fingerprint (see the module docstring)."""
    history = history or OutcomeCounts()
    passes = rerun_passes + history.passed
    failures = rerun_failures + history.failed
    if passes and failures:
        verdict = "flaky"
        reason = f"passed {passes} and failed {failures} times on the same code"
    elif failures:
        verdict = "broken"
        reason = f"failed all {failures} times it ran on this code"
    else:
        verdict = "healthy"
        reason = f"passed all {passes} times" if passes else "no pass or failure recorded"
    return Classification(
        nodeid, verdict, rerun_passes, rerun_failures, history.passed, history.failed, reason
    )


def suspects(
    counts: Mapping[tuple[str, str], OutcomeCounts], quarantined: Sequence[str] = ()
) -> list[str]:
    """Tests worth rerunning: any that ever failed in the given history, plus the quarantined."""
    names = {nodeid for (nodeid, _), outcome in counts.items() if outcome.failed}
    names.update(quarantined)
    return sorted(names)


@dataclass(frozen=True, slots=True)
class FlakyRate:
    flaky: int
    tests: int
    runs: int
    # nodeid -> its failure rate on the code where it both passed and failed (the worst such).
    failure_rates: Mapping[str, float] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.flaky / self.tests if self.tests else 0.0


@dataclass(frozen=True, slots=True)
class GateResult:
    passed: bool
    flaky_rate: FlakyRate
    budget_percent: float
    expired: tuple[QuarantineEntry, ...]
    missing: tuple[QuarantineEntry, ...]
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "gate": "flakiness",
            "passed": self.passed,
            "flaky_tests": self.flaky_rate.flaky,
            "tests": self.flaky_rate.tests,
            "runs": self.flaky_rate.runs,
            "flaky_rate_percent": round(self.flaky_rate.percent, 2),
            "failure_rates": {
                nodeid: round(rate, 4) for nodeid, rate in self.flaky_rate.failure_rates.items()
            },
            "budget_percent": self.budget_percent,
            "expired_quarantine": [entry.nodeid for entry in self.expired],
            "missing_quarantine": [entry.nodeid for entry in self.missing],
            "problems": self.problems,
        }


def evaluate_flakiness_gate(
    *,
    rate: FlakyRate,
    budget_percent: float,
    entries: Sequence[QuarantineEntry],
    collected: Sequence[str],
    today: dt.date,
) -> GateResult:
    """Fail on an expired quarantine entry, one naming no test, no history, a flaky rate over
    budget, or a single unquarantined test failing more often than the budget on unchanged code."""
    expired = expired_entries(entries, today)
    missing = missing_entries(entries, collected)
    problems = [
        f"quarantine entry {entry.nodeid} expired on {entry.expires} (owner {entry.owner}): "
        "fix the test and remove the entry, or extend expires"
        for entry in expired
    ]
    problems += [
        f"quarantine entry {entry.nodeid} names no collected test: remove or rename the entry"
        for entry in missing
    ]
    if rate.runs == 0:
        problems.append(
            "no recorded test runs: run the suite first (make test); no data is not a pass"
        )
    if rate.percent > budget_percent:
        problems.append(
            f"flaky rate {rate.percent:.1f}% ({rate.flaky}/{rate.tests} tests over the last "
            f"{rate.runs} runs) exceeds flaky_budget_percent {budget_percent:g}%"
        )
    # One bad test is over budget too, however large the suite: quarantine it or fix it.
    quarantined = {entry.nodeid for entry in entries}
    problems += [
        f"{nodeid} fails {100 * failure_rate:.0f}% of its runs on unchanged code, over "
        f"flaky_budget_percent {budget_percent:g}%: fix it or quarantine it (tests/quarantine.toml)"
        for nodeid, failure_rate in sorted(rate.failure_rates.items())
        if 100 * failure_rate > budget_percent and nodeid not in quarantined
    ]
    return GateResult(not problems, rate, budget_percent, expired, missing, problems)
