"""Duration regressions: is a test now slower than its own recent past, beyond noise?

Each test's baseline is the median of its call durations over a window of recent passing runs;
its noise is the MAD (median absolute deviation, scaled to a standard deviation). A test
regresses when it is slower than the median by more than the largest of: `mad_factor` noise
widths, `relative` of the median, and an absolute `floor`. The floor keeps millisecond tests
from "regressing" by jitter; the MAD keeps noisy tests from crying wolf. Only the call phase is
measured: setup carries session fixtures, whose cost lands on whichever test runs first.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this estimates its sigma


@dataclass(frozen=True, slots=True)
class Policy:
    window: int = 20  # recent passing results per test forming the baseline
    min_samples: int = 5  # fewer than this: no verdict (too little history)
    mad_factor: float = 5.0
    relative: float = 0.5  # 50 % slower than the median
    floor_s: float = 0.05  # and at least 50 ms slower

    @property
    def candidate_floor_s(self) -> float:
        """No test faster than this can be a regression (it cannot be `floor_s` slower)."""
        return self.floor_s


@dataclass(frozen=True, slots=True)
class Baseline:
    median_s: float
    mad_s: float
    samples: int


@dataclass(frozen=True, slots=True)
class DurationVerdict:
    nodeid: str
    current_s: float
    baseline: Baseline | None
    threshold_s: float | None  # slower than median + this is a regression
    regressed: bool
    reason: str

    @property
    def slowdown_s(self) -> float:
        return self.current_s - self.baseline.median_s if self.baseline else 0.0


def baseline_of(durations: Sequence[float], policy: Policy = Policy()) -> Baseline | None:
    """The robust baseline of the newest `window` durations (newest first); None if too few."""
    window = list(durations[: policy.window])
    if len(window) < policy.min_samples:
        return None
    median = statistics.median(window)
    mad = statistics.median(abs(value - median) for value in window) * MAD_TO_SIGMA
    return Baseline(median, mad, len(window))


def judge(
    nodeid: str, current_s: float, history: Sequence[float], policy: Policy = Policy()
) -> DurationVerdict:
    """Decide whether one test's current call duration is a regression against its history."""
    baseline = baseline_of(history, policy)
    if baseline is None:
        return DurationVerdict(
            nodeid,
            current_s,
            None,
            None,
            False,
            f"{len(history)} earlier passing runs, need {policy.min_samples}",
        )
    threshold = max(
        policy.mad_factor * baseline.mad_s, policy.relative * baseline.median_s, policy.floor_s
    )
    slower = current_s - baseline.median_s
    regressed = slower > threshold
    reason = (
        f"{current_s:.3f}s vs median {baseline.median_s:.3f}s"
        f" (+{slower:.3f}s > {threshold:.3f}s allowed)"
        if regressed
        else f"{current_s:.3f}s within {threshold:.3f}s of median {baseline.median_s:.3f}s"
    )
    return DurationVerdict(nodeid, current_s, baseline, threshold, regressed, reason)


def regressions(
    current: Mapping[str, float],
    history: Mapping[str, Sequence[float]],
    policy: Policy = Policy(),
) -> list[DurationVerdict]:
    """The regressed tests among `current` (nodeid -> call seconds), worst slowdown first."""
    verdicts = [
        judge(nodeid, seconds, history.get(nodeid, ()), policy)
        for nodeid, seconds in current.items()
        if seconds > policy.candidate_floor_s
    ]
    return sorted((v for v in verdicts if v.regressed), key=lambda v: v.slowdown_s, reverse=True)


@dataclass(frozen=True, slots=True)
class SlowTest:
    nodeid: str
    median_s: float
    samples: int


def slowest(
    history: Mapping[str, Sequence[float]], top: int, policy: Policy = Policy()
) -> list[SlowTest]:
    """The `top` tests by median call duration over their recent window."""
    ranked = [
        SlowTest(nodeid, statistics.median(values[: policy.window]), len(values[: policy.window]))
        for nodeid, values in history.items()
        if values
    ]
    ranked.sort(key=lambda test: test.median_s, reverse=True)
    return ranked[:top]


def format_regression(verdict: DurationVerdict) -> str:
    return f"SLOWER {verdict.nodeid}: {verdict.reason}"


class DurationSummary:
    """A terminal summary section listing this run's regressions; silent when there are none.

    Registered beside the recorder (controller only). The recorder keeps the call durations of
    passing tests slower than the policy floor, so for a suite of fast tests nothing is queried.
    """

    def __init__(self, recorder: HasSlowCalls, policy: Policy = Policy()) -> None:
        self._recorder = recorder
        self._policy = policy

    def pytest_terminal_summary(self, terminalreporter: TerminalWriter) -> None:
        current = self._recorder.slow_calls
        if not current:
            return
        history = self._recorder.store.passing_call_durations(
            exclude_run=self._recorder.run_id, last_runs=self._policy.window * 3, nodeids=current
        )
        found = regressions(current, history, self._policy)
        if not found:
            return
        terminalreporter.section("testkit duration regressions", sep="-", yellow=True)
        for verdict in found:
            terminalreporter.write_line(format_regression(verdict))
        terminalreporter.write_line("(testkit durations lists them with the slowest tests)")


class HasSlowCalls(Protocol):
    @property
    def run_id(self) -> str: ...

    @property
    def slow_calls(self) -> dict[str, float]: ...

    @property
    def store(self) -> DurationSource: ...


class DurationSource(Protocol):
    def passing_call_durations(
        self, *, exclude_run: str | None, last_runs: int, nodeids: Iterable[str] | None = None
    ) -> dict[str, list[float]]: ...


class TerminalWriter(Protocol):
    def section(self, title: str, sep: str = "=", **markup: bool) -> None: ...

    def write_line(self, line: str, **markup: bool) -> None: ...
