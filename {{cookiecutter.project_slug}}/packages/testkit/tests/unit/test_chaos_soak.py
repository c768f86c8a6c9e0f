"""The chaos soak's schedule, knobs and summary (pure), and the thread that applies a schedule."""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest

from testkit.chaos.in_process import InProcessProxy
from testkit.chaos.soak import (
    DOWN,
    FAULT_KINDS,
    InvariantResult,
    PlannedFault,
    SoakConfig,
    SoakReport,
    SoakSettingError,
    plan_faults,
    soak_config,
)
from testkit.chaos.soak_runner import SOAK_TOXIC_NAME, FaultSchedule
from testkit.chaos.toxics import make_toxic

DEPENDENCIES = ("nats", "postgres", "redis")


def test_the_same_seed_plans_the_same_faults_and_another_seed_others() -> None:
    config = SoakConfig(probability=0.5, duration_s=60, seed=11)

    first = plan_faults(config, DEPENDENCIES)

    assert first == plan_faults(config, DEPENDENCIES)
    assert first != plan_faults(SoakConfig(0.5, 60, seed=12), DEPENDENCIES)


def test_every_planned_fault_is_valid_ends_in_time_and_never_overlaps_on_one_dependency() -> None:
    faults = plan_faults(SoakConfig(probability=1.0, duration_s=200, seed=3), DEPENDENCIES)

    assert {fault.kind for fault in faults} == set(FAULT_KINDS)  # every kind is drawn
    for fault in faults:
        assert fault.end_s <= 200
        if fault.kind != DOWN:  # the proxy's own validation accepts what was drawn
            make_toxic(fault.kind, stream=fault.stream, **fault.attributes)
    for dependency in DEPENDENCIES:
        mine = [fault for fault in faults if fault.dependency == dependency]
        assert all(a.end_s <= b.start_s for a, b in itertools.pairwise(mine))


def test_probability_sets_how_often_a_fault_starts() -> None:
    # With one dependency a busy one skips ticks, so use many: then each tick is one draw.
    many = tuple(f"dependency-{n}" for n in range(50))

    assert plan_faults(SoakConfig(0.0, 100, seed=1), many) == ()
    assert len(plan_faults(SoakConfig(1.0, 100, seed=1), many)) == 100
    assert 150 <= len(plan_faults(SoakConfig(0.2, 1000, seed=1), many)) <= 250  # ~200


@pytest.mark.parametrize(
    ("probability", "duration", "seed", "message"),
    [
        ("1.5", None, None, "CHAOS_PROBABILITY must be a number from 0 to 1, got '1.5'"),
        ("often", None, None, "CHAOS_PROBABILITY must be a number from 0 to 1, got 'often'"),
        (None, "0", None, "CHAOS_DURATION must be a number from 1 to 86400, got '0'"),
        (None, "nan", None, "CHAOS_DURATION must be a number from 1 to 86400, got 'nan'"),
        (None, None, "-1", "CHAOS_SEED must be a whole number >= 0, got '-1'"),
        (None, None, "x", "CHAOS_SEED must be a whole number >= 0, got 'x'"),
    ],
)
def test_a_bad_knob_is_one_line_naming_it_and_what_it_allows(
    probability: str | None, duration: str | None, seed: str | None, message: str
) -> None:
    with pytest.raises(SoakSettingError) as raised:
        soak_config(probability, duration, seed, default_seed=1)

    assert str(raised.value) == message


def test_unset_knobs_take_the_defaults_and_the_sessions_seed() -> None:
    assert soak_config(None, None, None, default_seed=42) == SoakConfig(0.2, 30.0, 42)
    assert soak_config("0.5", "20", "7", default_seed=42) == SoakConfig(0.5, 20.0, 7)


def test_the_summary_names_the_seed_to_replay_the_faults_the_outcomes_and_the_verdict() -> None:
    faults = (
        PlannedFault(0.0, 1.0, "postgres", DOWN),
        PlannedFault(1.0, 2.0, "nats", "latency", "upstream", {"latency": 100, "jitter": 0}),
    )
    report = SoakReport(
        SoakConfig(0.2, 20, seed=99),
        faults,
        Counter({"POST /documents": 10}),
        Counter({("POST /documents", "201"): 8, ("POST /documents", "503"): 2}),
        (
            InvariantResult("no acknowledged write lost", True, "8 of 8"),
            InvariantResult("readiness recovered", False, "still 503"),
        ),
    )

    summary = report.summary()

    assert "make chaos-soak CHAOS_SEED=99" in summary
    assert "  down            1" in summary
    assert "  latency         1" in summary
    assert "POST /documents                10  201 8, 503 2" in summary
    assert "  FAIL  readiness recovered: still 503" in summary
    assert summary.endswith("verdict: FAIL")
    assert report.to_json()["passed"] is False


def test_the_schedule_applies_each_fault_on_its_proxy_and_leaves_every_proxy_clean() -> None:
    faults = (
        PlannedFault(0.0, 30.0, "postgres", DOWN),
        PlannedFault(0.0, 30.0, "redis", "latency", "downstream", {"latency": 50, "jitter": 0}),
    )
    # Real in-process proxies; the upstream is never dialled, since nothing connects.
    with (
        InProcessProxy("postgres", ("127.0.0.1", 9)) as postgres,
        InProcessProxy("redis", ("127.0.0.1", 9)) as redis,
    ):
        with FaultSchedule(faults, {"postgres": postgres, "redis": redis}) as schedule:
            deadline = time.monotonic() + 10
            while len(schedule.applied) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not postgres.enabled
            assert [toxic.name for toxic in redis.toxics()] == [SOAK_TOXIC_NAME]

        assert schedule.applied == list(faults)
        assert schedule.errors == []
        assert postgres.enabled
        assert redis.toxics() == []


def test_a_fault_on_a_dependency_without_a_proxy_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="no proxy for nats; proxies: postgres"):
        FaultSchedule((PlannedFault(0, 1, "nats", DOWN),), {"postgres": object()})  # type: ignore[dict-item]
