"""The pure decisions of the analytics: duration regressions, flakiness, the gate, replay."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from testkit.analytics.durations import Policy, baseline_of, judge, regressions, slowest
from testkit.analytics.fingerprint import (
    SourceHashes,
    combine,
    git_source_hashes,
    tree_source_hashes,
)
from testkit.analytics.flaky import (
    FlakyRate,
    classify,
    estimate_failure_rate,
    evaluate_flakiness_gate,
    suspects,
)
from testkit.analytics.history import OutcomeCounts, Result, Run
from testkit.analytics.quarantine import QuarantineEntry
from testkit.analytics.replay import plan_replay

TODAY = dt.date(2026, 11, 21)
# Imported while collecting: numpy (under scipy) cannot be imported twice in one process, and
# pytester's in-process runs unload the modules first imported inside them.
pytest.importorskip("scipy.stats")


# --- durations --------------------------------------------------------------------------------
def test_the_baseline_is_the_median_and_scaled_mad_of_the_newest_window() -> None:
    baseline = baseline_of([1.0, 1.1, 0.9, 1.0, 5.0, 7.0, 9.0], Policy(window=5))

    assert baseline is not None
    # The 5.0 outlier inside the window moves neither; 7.0 and 9.0 are older than the window.
    assert baseline.median_s == 1.0
    assert baseline.samples == 5
    assert baseline.mad_s == pytest.approx(0.1 * 1.4826)


def test_a_test_twice_as_slow_as_its_stable_past_is_a_regression() -> None:
    verdict = judge("t::slow", 2.0, [1.0, 1.02, 0.98, 1.01, 0.99, 1.0])

    assert verdict.regressed
    assert verdict.slowdown_s == pytest.approx(1.0)
    assert "allowed" in verdict.reason


def test_jitter_within_the_mad_band_of_a_noisy_test_is_not_a_regression() -> None:
    rng = random.Random(7)
    noisy = [1.0 + rng.uniform(-0.4, 0.4) for _ in range(20)]

    assert not judge("t::noisy", 1.45, noisy).regressed


def test_the_absolute_floor_keeps_millisecond_tests_from_regressing_by_jitter() -> None:
    history = [0.001] * 10

    assert not judge("t::tiny", 0.030, history).regressed  # 30x slower, but only 29 ms
    assert judge("t::tiny", 0.080, history).regressed


def test_too_little_history_gives_no_verdict() -> None:
    verdict = judge("t::new", 9.0, [1.0, 1.0])

    assert not verdict.regressed
    assert verdict.baseline is None
    assert "need 5" in verdict.reason


def test_regressions_are_listed_worst_first_and_slowest_ranks_by_median() -> None:
    history = {"t::a": [1.0] * 6, "t::b": [0.2] * 6, "t::c": [0.5] * 6}
    current = {"t::a": 1.5 + 0.2, "t::b": 2.0, "t::c": 0.5}

    found = regressions(current, history)

    assert [verdict.nodeid for verdict in found] == ["t::b", "t::a"]
    assert [test.nodeid for test in slowest(history, 2)] == ["t::a", "t::c"]


# --- flakiness --------------------------------------------------------------------------------
def test_passing_and_failing_on_the_same_code_is_flaky_always_failing_is_broken() -> None:
    assert classify("t", rerun_passes=27, rerun_failures=3).verdict == "flaky"
    assert classify("t", rerun_passes=0, rerun_failures=30).verdict == "broken"
    assert classify("t", rerun_passes=30, rerun_failures=0).verdict == "healthy"
    # History on the same fingerprint counts: one recorded failure plus passing reruns.
    history = OutcomeCounts(passed=4, failed=1)
    assert classify("t", rerun_passes=30, rerun_failures=0, history=history).verdict == "flaky"


def test_a_deterministic_test_is_never_classified_flaky() -> None:
    for runs in range(1, 31):
        assert classify("t", rerun_passes=runs, rerun_failures=0).verdict == "healthy"
        assert classify("t", rerun_passes=0, rerun_failures=runs).verdict == "broken"


def test_the_failure_rate_has_a_wilson_interval_around_it() -> None:
    estimate = estimate_failure_rate(3, 30)

    assert estimate.rate == pytest.approx(0.1)
    assert estimate.low == pytest.approx(0.0346, abs=1e-3)
    assert estimate.high == pytest.approx(0.2562, abs=1e-3)
    assert estimate_failure_rate(0, 0).high == 1.0


def test_suspects_are_tests_that_failed_plus_the_quarantined() -> None:
    counts = {
        ("t::a", "c1"): OutcomeCounts(passed=3),
        ("t::b", "c1"): OutcomeCounts(passed=2, failed=1),
        ("t::c", "c2"): OutcomeCounts(failed=1),
    }

    assert suspects(counts, ["t::q"]) == ["t::b", "t::c", "t::q"]


def entry(nodeid: str, expires: dt.date) -> QuarantineEntry:
    return QuarantineEntry(nodeid, "race", "jane", expires)


def test_the_gate_fails_on_an_expired_entry_a_missing_test_and_a_rate_over_budget() -> None:
    result = evaluate_flakiness_gate(
        rate=FlakyRate(flaky=2, tests=20, runs=10),
        budget_percent=5.0,
        entries=[entry("t.py::gone", TODAY), entry("t.py::old", dt.date(2026, 11, 20))],
        collected=["t.py::old", "t.py::other"],
        today=TODAY,
    )

    assert not result.passed
    assert [e.nodeid for e in result.expired] == ["t.py::old"]
    assert [e.nodeid for e in result.missing] == ["t.py::gone"]
    assert any("flaky rate 10.0% (2/20 tests" in problem for problem in result.problems)
    assert result.as_dict()["flaky_rate_percent"] == 10.0


def test_one_unquarantined_test_failing_more_often_than_the_budget_fails_the_gate() -> None:
    # 1 flaky test in 1,000 is well within a 5% suite budget, but it fails 30% of its runs.
    rate = FlakyRate(flaky=1, tests=1000, runs=10, failure_rates={"t.py::test_race": 0.3})

    alone = evaluate_flakiness_gate(
        rate=rate, budget_percent=5.0, entries=[], collected=[], today=TODAY
    )
    quarantined = evaluate_flakiness_gate(
        rate=rate,
        budget_percent=5.0,
        entries=[entry("t.py::test_race", TODAY)],
        collected=["t.py::test_race"],
        today=TODAY,
    )

    assert not alone.passed
    assert alone.problems == [
        "t.py::test_race fails 30% of its runs on unchanged code, over flaky_budget_percent 5%: "
        "fix it or quarantine it (tests/quarantine.toml)"
    ]
    assert quarantined.passed, quarantined.problems


def test_no_recorded_runs_fail_the_gate_instead_of_passing_on_no_data() -> None:
    result = evaluate_flakiness_gate(
        rate=FlakyRate(flaky=0, tests=0, runs=0),
        budget_percent=5.0,
        entries=[],
        collected=[],
        today=TODAY,
    )

    assert not result.passed
    assert "no recorded test runs" in result.problems[0]


def test_the_gate_passes_within_budget_with_live_entries_matching_parametrized_cases() -> None:
    result = evaluate_flakiness_gate(
        rate=FlakyRate(flaky=1, tests=20, runs=10),
        budget_percent=5.0,
        entries=[entry("t.py::test_p", TODAY)],  # expires today: still valid
        collected=["t.py::test_p[1]", "t.py::test_p[2]"],
        today=TODAY,
    )

    assert result.passed, result.problems


# --- replay and fingerprint -------------------------------------------------------------------
def test_replay_keeps_the_recorded_order_seed_and_mode() -> None:
    run = Run("r1", 1.0, 2.0, 1234, "GOLDEN", "tests", "c", "[]", 4, 1)
    results = [
        Result("r1", nodeid, "passed", 0, 0.0, 0.0, 0.0, "gw0", position)
        for nodeid, position in [("t::b", 2), ("t::c", 3), ("t::a", 1)]
    ]

    plan = plan_replay(run, results, rootdir=Path("/project"), extra_args=["-x"])

    assert plan.nodeids == ["t::a", "t::b", "t::c"]
    assert plan.environment == {"TEST_MODE": "GOLDEN", "TEST_SEED": "1234"}
    assert plan.arguments == [
        "--randomly-dont-reorganize",
        "-x",
        "@/project/.testkit/replay/r1.txt",
    ]
    assert any("4 xdist workers" in note for note in plan.notes)


def tree_fingerprint(rootdir: Path) -> str:
    return tree_source_hashes(rootdir).fingerprint


def git_fingerprint(rootdir: Path) -> str | None:
    hashes = git_source_hashes(rootdir)
    return None if hashes is None else hashes.fingerprint


def test_the_tree_fingerprint_changes_with_source_content_not_with_docs(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("docs\n")
    first = tree_fingerprint(tmp_path)

    (tmp_path / "README.md").write_text("more docs\n")
    assert tree_fingerprint(tmp_path) == first
    (tmp_path / "app.py").write_text("x = 2\n")
    assert tree_fingerprint(tmp_path) != first
    assert combine([("b", "2"), ("a", "1")]) == combine([("a", "1"), ("b", "2")])


def test_the_git_fingerprint_sees_uncommitted_and_untracked_sources(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "app.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "app.py"], cwd=tmp_path, check=True)
    first = git_fingerprint(tmp_path)

    (tmp_path / "notes.md").write_text("not code\n")
    assert git_fingerprint(tmp_path) == first
    (tmp_path / "app.py").write_text("x = 22\n")
    edited = git_fingerprint(tmp_path)
    (tmp_path / "new_module.py").write_text("y = 1\n")
    added = git_fingerprint(tmp_path)

    assert first is not None
    assert len({first, edited, added}) == 3


def test_source_hashes_find_a_rootdir_file_below_the_git_checkouts_top(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "app.py").write_text("x = 1\n")

    hashes = git_source_hashes(tmp_path / "project")

    assert hashes is not None
    assert hashes.rootdir_prefix == "project/"
    assert hashes.of("app.py") == hashes.hashes["project/app.py"] != "missing"
    assert hashes.of("gone.py") == "missing"
    assert SourceHashes({"a.py": "1"}).of("a.py") == "1"
