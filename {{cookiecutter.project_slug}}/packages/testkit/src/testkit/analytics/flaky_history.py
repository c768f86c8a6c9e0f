"""Flaky tests found in the recorded history of runs, without rerunning anything.

Reruns cannot find a 1 %-flaky test at any sane cost, but CI runs every test hundreds of times
anyway; the history holds that evidence. The question for each test is whether a failure was
the code's doing or chance's. The rule, per test, over its results oldest first:

- results are grouped by the code the test ran (`code`: a fingerprint of what it executes, so
  a change elsewhere in the project does not split its history);
- **flaky**: on one code, a short block of failures (fewer than TRANSIENT_BLOCK in a row) was
  followed by a pass: it recovered without any change to its code, so chance decided;
- **failing**: its newest results on its newest code are failures with no such recovery after
  them: a regression (or a broken environment) until proven otherwise, never called flaky;
- **transient**: it recovered, but only after TRANSIENT_BLOCK or more failures in a row (an
  outage of something it needs, fixed outside its code): reported, not counted as flaky;
- **healthy** otherwise.

Runs where a large share of the tests failed at once (OUTAGE_SHARE: a database down, a broken
runner) are outages, not evidence about any one test: `outage_runs` finds them and `judge_all`
leaves their results out, or one bad run would make every test it touched look flaky.

A regression that is fixed without touching the test's code, within TRANSIENT_BLOCK - 1 runs,
looks exactly like a flake; nothing in the outcomes can tell them apart. The failure rate of a
flaky test comes with its Wilson interval (testkit.analytics.flaky.estimate_failure_rate), over
its results on the codes where it flaked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from testkit.analytics.flaky import FlakyRate, RateEstimate, estimate_failure_rate

# Failures in a row that make a recovery look like an outage rather than chance. A 10 %-flaky
# test fails three times in a row once in a thousand runs; an outage usually lasts longer.
TRANSIENT_BLOCK = 3
# A run in which at least this share of its tests failed is an outage of the run, not of a test.
OUTAGE_SHARE = 0.2
OUTAGE_MIN_FAILURES = 5  # and at least this many: two failures of ten tests are not an outage

Verdict = Literal["flaky", "failing", "transient", "healthy"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One result of one test: its run, the code it ran (fingerprint) and whether it failed."""

    run: str
    code: str
    failed: bool


@dataclass(frozen=True, slots=True)
class HistoryVerdict:
    nodeid: str
    verdict: Verdict
    runs: int
    failures: int
    estimate: RateEstimate | None  # failure rate on the codes where it flaked (flaky only)
    reason: str


def _failure_blocks(outcomes: Sequence[bool]) -> list[tuple[int, int, bool]]:
    """(start, length, recovered) for each run of consecutive failures; recovered: a pass
    follows it."""
    blocks: list[tuple[int, int, bool]] = []
    start: int | None = None
    for index, failed in enumerate(outcomes):
        if failed and start is None:
            start = index
        elif not failed and start is not None:
            blocks.append((start, index - start, True))
            start = None
    if start is not None:
        blocks.append((start, len(outcomes) - start, False))
    return blocks


def judge_history(nodeid: str, observations: Sequence[Observation]) -> HistoryVerdict:
    """The verdict on one test from its results, oldest first (see the module docstring)."""
    by_code: dict[str, list[bool]] = {}
    for observation in observations:
        by_code.setdefault(observation.code, []).append(observation.failed)
    failures = sum(observation.failed for observation in observations)
    runs = len(observations)

    flaky_codes = [
        code
        for code, outcomes in by_code.items()
        if any(
            recovered and length < TRANSIENT_BLOCK
            for _, length, recovered in _failure_blocks(outcomes)
        )
    ]
    if flaky_codes:
        code_runs = sum(len(by_code[code]) for code in flaky_codes)
        code_failures = sum(sum(by_code[code]) for code in flaky_codes)
        estimate = estimate_failure_rate(code_failures, code_runs)
        return HistoryVerdict(
            nodeid,
            "flaky",
            runs,
            failures,
            estimate,
            f"failed {code_failures} of {code_runs} runs on unchanged code and passed again "
            f"without a change (rate {100 * estimate.rate:.1f}%, 95% CI "
            f"{100 * estimate.low:.1f}-{100 * estimate.high:.1f}%)",
        )
    if observations and observations[-1].failed:
        newest = by_code[observations[-1].code]
        length = _failure_blocks(newest)[-1][1]
        return HistoryVerdict(
            nodeid,
            "failing",
            runs,
            failures,
            None,
            f"failed its last {length} runs on its current code: a regression, not a flake, "
            "until it passes again unchanged",
        )
    transient = [
        length
        for outcomes in by_code.values()
        for _, length, recovered in _failure_blocks(outcomes)
        if recovered
    ]
    if transient:
        return HistoryVerdict(
            nodeid,
            "transient",
            runs,
            failures,
            None,
            f"failed {max(transient)} runs in a row, then passed unchanged: an outage of "
            "something it needs, not chance",
        )
    return HistoryVerdict(
        nodeid, "healthy", runs, failures, None, f"no failure in {runs} recorded runs"
    )


def outage_runs(observations: Mapping[str, Sequence[Observation]]) -> frozenset[str]:
    """Runs in which OUTAGE_SHARE or more of the tests (and OUTAGE_MIN_FAILURES) failed."""
    totals: dict[str, list[int]] = {}
    for sequence in observations.values():
        for observation in sequence:
            counts = totals.setdefault(observation.run, [0, 0])
            counts[0] += observation.failed
            counts[1] += 1
    return frozenset(
        run
        for run, (failed, total) in totals.items()
        if failed >= OUTAGE_MIN_FAILURES and failed >= OUTAGE_SHARE * total
    )


def judge_all(histories: Mapping[str, Sequence[Observation]]) -> dict[str, HistoryVerdict]:
    """Every test's verdict, its results in outage runs left out; tests with none are left out."""
    outages = outage_runs(histories)
    verdicts: dict[str, HistoryVerdict] = {}
    for nodeid, sequence in histories.items():
        kept = [observation for observation in sequence if observation.run not in outages]
        if kept:
            verdicts[nodeid] = judge_history(nodeid, kept)
    return verdicts


def histories(rows: Iterable[tuple[str, str, str, bool]]) -> dict[str, list[Observation]]:
    """nodeid -> its results oldest first, from `HistoryStore.pass_fail_sequence` rows."""
    found: dict[str, list[Observation]] = {}
    for nodeid, run, code, failed in rows:
        found.setdefault(nodeid, []).append(Observation(run, code, failed))
    return found


def flaky_rate_of(verdicts: Mapping[str, HistoryVerdict], runs: int) -> FlakyRate:
    """The share of judged tests that are flaky, with each flaky test's estimated rate: what the
    flakiness gate's budget is checked against."""
    rates = {
        nodeid: verdict.estimate.rate
        for nodeid, verdict in verdicts.items()
        if verdict.verdict == "flaky" and verdict.estimate is not None
    }
    return FlakyRate(len(rates), len(verdicts), runs, rates)
