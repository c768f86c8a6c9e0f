"""Flaky detection accuracy: seeded tests failing 1%, 5%, 10%, 30% of the time, and deterministic.

Each trial simulates one test with a seeded RNG and feeds testkit's own classifier
(testkit.analytics.flaky.classify, imported from the template's packages/testkit) exactly what
`make flakiness-report` would:

- cold (ALL=1): nothing known; 30 reruns on the same code, then classify. A test failing with
  probability p is caught only if a rerun fails: expected 1 - (1 - p)^30 (96% at p = 10%).
- suspect (the default report): the test ran in ordinary runs until one failed (that failure is
  in the history on the same code, which is what made it a suspect), then 30 reruns.
- deterministic: always passes / always fails; must never be classified flaky.

Reported per rate: the share of 100 trials classified flaky, and the median number of reruns
after which the verdict was reached. The target: p = 10% classified flaky in >= 95 of 100
trials within 30 reruns; no deterministic test ever flaky. A real end-to-end rerun of a
genuinely flaky test runs in packages/testkit/tests (test_quarantine_replay_acceptance.py).

Standalone: python bench/flaky_accuracy.py [--trials 100] [--reruns 30] [--seed 2026]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from dataclasses import dataclass

from project import TEMPLATE_ROOT, Figure, Measurement

# The template's own copy of testkit (packages/testkit is copied into bakes unrendered).
sys.path.insert(0, str(TEMPLATE_ROOT / "{{cookiecutter.project_slug}}/packages/testkit/src"))
from testkit.analytics.flaky import classify
from testkit.analytics.history import OutcomeCounts

RATES = (0.01, 0.05, 0.10, 0.30)
TARGET_RATE, TARGET_TRIALS = 0.10, 95


@dataclass(frozen=True)
class Accuracy:
    flaky_trials: int
    trials: int
    median_reruns_to_verdict: float | None


def trial(rng: random.Random, p: float, reruns: int, *, suspect: bool) -> int | None:
    """The rerun after which the test is classified flaky, or None if it never is."""
    history = OutcomeCounts()
    if suspect:
        passes = 0
        while rng.random() >= p:  # ordinary runs until the first recorded failure
            passes += 1
            if passes > 100_000:  # p so small (or 0) that it never fails: never a suspect
                return None
        history = OutcomeCounts(passed=passes, failed=1)
    rerun_passes = rerun_failures = 0
    for number in range(1, reruns + 1):
        if rng.random() < p:
            rerun_failures += 1
        else:
            rerun_passes += 1
        verdict = classify(
            "t", rerun_passes=rerun_passes, rerun_failures=rerun_failures, history=history
        ).verdict
        if verdict == "flaky":
            return number
    return None


def accuracy(p: float, *, trials: int, reruns: int, seed: int, suspect: bool) -> Accuracy:
    rng = random.Random(f"{seed}-{p}-{suspect}")
    found = [trial(rng, p, reruns, suspect=suspect) for _ in range(trials)]
    reached = [number for number in found if number is not None]
    median = statistics.median(reached) if reached else None
    return Accuracy(len(reached), trials, median)


def deterministic_flaky_count(*, trials: int, reruns: int) -> int:
    """Always-pass and always-fail tests, with any amount of history on the same code."""
    flaky = 0
    for prior in range(trials):
        for passes, failures, history in (
            (reruns, 0, OutcomeCounts(passed=prior)),
            (0, reruns, OutcomeCounts(failed=prior)),
        ):
            verdict = classify(
                "t", rerun_passes=passes, rerun_failures=failures, history=history
            ).verdict
            flaky += verdict == "flaky"
    return flaky


def run_all(trials: int, reruns: int, seed: int) -> tuple[list[Figure], int]:
    figures = []
    for p in RATES:
        cold = accuracy(p, trials=trials, reruns=reruns, seed=seed, suspect=False)
        suspect = accuracy(p, trials=trials, reruns=reruns, seed=seed, suspect=True)
        figures.append(
            Figure(
                f"fails {p:.0%}",
                {
                    "cold_flaky_of_100": cold.flaky_trials,
                    "expected_cold": round(trials * (1 - (1 - p) ** reruns), 1),
                    "suspect_flaky_of_100": suspect.flaky_trials,
                    "median_reruns_cold": cold.median_reruns_to_verdict or "-",
                    "median_reruns_suspect": suspect.median_reruns_to_verdict or "-",
                },
                "python bench/flaky_accuracy.py",
            )
        )
    deterministic = deterministic_flaky_count(trials=trials, reruns=reruns)
    figures.append(
        Figure(
            "deterministic (pass / fail)",
            {"cold_flaky_of_100": deterministic, "suspect_flaky_of_100": deterministic},
            "python bench/flaky_accuracy.py",
        )
    )
    return figures, deterministic


def measure(quick: bool, trials: int = 100, reruns: int = 30, seed: int = 2026) -> Measurement:
    figures, deterministic = run_all(trials, reruns, seed)
    ten = next(f for f in figures if f.label == f"fails {TARGET_RATE:.0%}").values
    return Measurement(
        "flaky_accuracy",
        f"Flaky detection: share of {trials} seeded trials classified flaky within {reruns} reruns",
        figures,
        notes=(
            "cold = ALL=1 with no history; suspect = the default report, where the test is a "
            "suspect because a failure on the same code is already recorded. Seed "
            f"{seed}; testkit.analytics.flaky.classify from the template."
        ),
        chart=("suspect_flaky_of_100", "trials"),
        headline=(
            f"Flaky detection: a test failing {TARGET_RATE:.0%} of the time is classified flaky "
            f"in {ten['suspect_flaky_of_100']}/{trials} trials once a failure is recorded "
            f"({ten['cold_flaky_of_100']}/{trials} from {reruns} reruns alone); deterministic "
            f"tests classified flaky: {deterministic}."
        ),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--reruns", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args()
    figures, deterministic = run_all(arguments.trials, arguments.reruns, arguments.seed)
    for figure in figures:
        print(f"{figure.label}: {dict(figure.values)}")
    ten = next(f for f in figures if f.label == f"fails {TARGET_RATE:.0%}")
    cold, suspect = ten.values["cold_flaky_of_100"], ten.values["suspect_flaky_of_100"]
    print(
        f"10% test classified flaky: cold {cold}/{arguments.trials}, suspect "
        f"{suspect}/{arguments.trials} (target >= {TARGET_TRIALS}); deterministic tests "
        f"classified flaky: {deterministic}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
