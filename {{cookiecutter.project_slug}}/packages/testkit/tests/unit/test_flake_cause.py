"""Telling a flaky failure's cause from a replay of the failing run and a run alone."""

from __future__ import annotations

import pytest

from testkit.analytics.flake_cause import judge_cause

TEST = "tests/unit/test_cache.py::test_reads_fresh"


@pytest.mark.parametrize(
    ("replay_failed", "alone_failed", "cause"),
    [
        (False, False, "nondeterministic"),
        (False, True, "nondeterministic"),  # the same order and seed passed: not them
        (True, True, "seed-dependent"),
        (True, False, "order-dependent"),
    ],
)
def test_the_two_checks_decide_the_cause(
    replay_failed: bool, alone_failed: bool, cause: str
) -> None:
    verdict = judge_cause(
        TEST, run_id="flaky-1", seed=77, replay_failed=replay_failed, alone_failed=alone_failed
    )

    assert verdict.cause == cause
    assert verdict.seed == 77


def test_each_cause_says_how_to_reproduce_it() -> None:
    order = judge_cause(TEST, run_id="flaky-1", seed=77, replay_failed=True, alone_failed=False)
    seed = judge_cause(TEST, run_id="flaky-1", seed=77, replay_failed=True, alone_failed=True)

    assert order.reproduce == (
        f"make replay RUN=flaky-1; make find-polluter TEST='{TEST}' RUN=flaky-1"
    )
    assert "passes alone with that seed" in order.reason
    assert seed.reproduce == f"TEST_SEED=77 pytest '{TEST}'"
