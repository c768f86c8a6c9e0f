"""Flaky tests found from history alone: a simulated CI history judged by testkit's own rule.

testkit.analytics.flaky_history (imported from the template's packages/testkit) decides from
recorded results, without reruns. The simulation, seeded:

- 1,000 stable tests, and 500 tests each failing 1 %, 5 % and 10 % of their runs at random;
- real regressions, 25 of each kind: (a) a code change breaks the test and a later change fixes
  it; (b) a code change breaks it for good; (c) the environment breaks it for good (its code
  unchanged); (d) an outage of something it needs fails it 3 to 10 runs in a row, then it passes
  unchanged;
- churn: each test's code changes with probability CHURN per run (a new fingerprint);
- outage runs: OUTAGE_RUNS runs in which 40 % of all tests fail at once (a database down).

Reported, per history length (200, 300 and 400 runs): the share of flaky tests of each rate
called flaky; stable tests called flaky (goal 0); regressions called flaky (goal 0); and, to
show the outage filter bites, stable tests called flaky when outage runs are not left out. The limit
of any history-only rule for a 1 %-flaky test: it must have failed at least once and passed
again afterwards on the same code, about 1 - 0.99^(runs - 1) without churn (87 % at 200 runs,
95 % at 300, 98 % at 400).

Standalone: python bench/flaky_history.py [--seed 2026] [--churn 0.005]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from dataclasses import dataclass

from project import TEMPLATE_ROOT, Figure, Measurement

sys.path.insert(0, str(TEMPLATE_ROOT / "{{cookiecutter.project_slug}}/packages/testkit/src"))
from testkit.analytics.flaky_history import Observation, judge_all, judge_history

STABLE = 1_000
FLAKY_RATES = (0.01, 0.05, 0.10)
FLAKY_PER_RATE = 500
QUICK_PER_RATE = 50  # make bench QUICK=1: proves the machinery, not the rates
REGRESSIONS_PER_KIND = 25
RUN_COUNTS = (200, 300, 400)
CHURN = 0.005  # a test's code changes once in 200 runs on average
OUTAGE_RUNS = 3
OUTAGE_FAILING_SHARE = 0.4
COMMAND = "python bench/flaky_history.py"


@dataclass(frozen=True)
class SimulatedTest:
    nodeid: str
    kind: str  # stable | flaky-1% | ... | regression-a ...
    rate: float = 0.0


def simulate(
    runs: int, seed: int, churn: float, per_rate: int
) -> tuple[dict[str, list[Observation]], list[SimulatedTest]]:
    rng = random.Random(f"{seed}-{runs}-{churn}")
    tests = [SimulatedTest(f"stable_{n}", "stable") for n in range(STABLE)]
    for rate in FLAKY_RATES:
        tests += [
            SimulatedTest(f"flaky{rate:.0%}_{n}", f"flaky {rate:.0%}", rate)
            for n in range(per_rate)
        ]
    for kind in "abcd":
        tests += [
            SimulatedTest(f"regression_{kind}_{n}", f"regression ({kind})")
            for n in range(REGRESSIONS_PER_KIND)
        ]
    outages = set(rng.sample(range(runs), OUTAGE_RUNS))
    histories: dict[str, list[Observation]] = {}
    for test in tests:
        version = 0
        start = rng.randrange(runs // 4, runs - 20)  # when a regression begins
        length = rng.randint(3, 10) if test.kind.endswith("(d)") else rng.randint(1, 15)
        sequence: list[Observation] = []
        for run in range(runs):
            if rng.random() < churn:
                version += 1
            if run in _code_changes(test, start, length):
                version += 1
            failed = _fails(test, run, start, length, rng)
            if run in outages and rng.random() < OUTAGE_FAILING_SHARE:
                failed = True
            sequence.append(Observation(str(run), f"{test.nodeid}@{version}", failed))
        histories[test.nodeid] = sequence
    return histories, tests


def _code_changes(test: SimulatedTest, start: int, length: int) -> tuple[int, ...]:
    """Runs where the test's own code changes: the breaking change (a, b), the fix (a)."""
    if test.kind == "regression (a)":
        return (start, start + length)
    if test.kind == "regression (b)":
        return (start,)
    return ()


def _fails(test: SimulatedTest, run: int, start: int, length: int, rng: random.Random) -> bool:
    if test.kind.startswith("flaky"):
        return rng.random() < test.rate
    if test.kind == "regression (a)" or test.kind == "regression (d)":
        return start <= run < start + length
    if test.kind in ("regression (b)", "regression (c)"):
        return run >= start
    return False


def judge(
    runs: int, seed: int, churn: float, per_rate: int, *, outages: bool = True
) -> dict[str, Counter[str]]:
    """kind -> Counter of verdicts (`outages=False`: without leaving outage runs out)."""
    histories, tests = simulate(runs, seed, churn, per_rate)
    if outages:
        verdicts = judge_all(histories)
    else:
        verdicts = {nodeid: judge_history(nodeid, seq) for nodeid, seq in histories.items()}
    by_kind: dict[str, Counter[str]] = {}
    for test in tests:
        by_kind.setdefault(test.kind, Counter())[verdicts[test.nodeid].verdict] += 1
    return by_kind


def run_all(seed: int, churn: float, per_rate: int = FLAKY_PER_RATE) -> list[Figure]:
    figures = []
    for runs in RUN_COUNTS:
        by_kind = judge(runs, seed, churn, per_rate)
        regressions = sum(
            (counts for kind, counts in by_kind.items() if kind.startswith("regression")),
            Counter(),
        )
        values: dict[str, float | int | str] = {
            f"flaky_{rate:.0%}_found_pct": round(
                100 * by_kind[f"flaky {rate:.0%}"]["flaky"] / per_rate, 1
            )
            for rate in FLAKY_RATES
        }
        values["expected_1%_no_churn_pct"] = round(100 * (1 - 0.99 ** (runs - 1)), 1)
        values["stable_called_flaky"] = by_kind["stable"]["flaky"]
        values["regressions_called_flaky"] = regressions["flaky"]
        values["regressions_failing_or_transient"] = (
            regressions["failing"] + regressions["transient"]
        )
        unfiltered = judge(runs, seed, churn, per_rate, outages=False)
        values["stable_called_flaky_without_outage_filter"] = unfiltered["stable"]["flaky"]
        figures.append(Figure(f"{runs} runs", values, f"{COMMAND} --seed {seed} --churn {churn}"))
    return figures


def measure(quick: bool, seed: int = 2026, churn: float = CHURN) -> Measurement:
    per_rate = QUICK_PER_RATE if quick else FLAKY_PER_RATE
    figures = run_all(seed, churn, per_rate)
    three = next(f for f in figures if f.label == "300 runs").values
    four = next(f for f in figures if f.label == "400 runs").values
    return Measurement(
        "flaky_history",
        f"Flaky detection from history: {STABLE} stable tests, {per_rate} each at 1/5/10 % "
        f"flaky, {4 * REGRESSIONS_PER_KIND} regressions, {OUTAGE_RUNS} outage runs",
        figures,
        notes=(
            f"Seed {seed}; each test's code changes with probability {churn} per run; "
            "testkit.analytics.flaky_history.judge_all from the template. A regression fixed "
            "without a change to the test's code within 2 runs looks exactly like a flake and "
            "is not simulated (no rule on outcomes can tell them apart)."
        ),
        chart=("flaky_1%_found_pct", "% of 1%-flaky tests found"),
        headline=(
            f"Flaky from history: {four['flaky_1%_found_pct']}% of 1%-flaky tests found over "
            f"400 runs ({three['flaky_1%_found_pct']}% over 300; the limit of any rule on "
            f"outcomes: {four['expected_1%_no_churn_pct']}% and "
            f"{three['expected_1%_no_churn_pct']}%), all 5%- and 10%-flaky ones at 300; stable "
            f"tests called flaky: {three['stable_called_flaky']} of {STABLE} "
            f"({three['stable_called_flaky_without_outage_filter']} without the outage filter); "
            f"regressions called flaky: {three['regressions_called_flaky']} of "
            f"{4 * REGRESSIONS_PER_KIND}."
        ),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--churn", type=float, default=CHURN)
    arguments = parser.parse_args()
    for figure in run_all(arguments.seed, arguments.churn):
        print(f"{figure.label}: {dict(figure.values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
