"""find-polluter's decisions (testkit.analytics.polluter): which tests to bisect, in which order,
and what detect-test-pollution's output means."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.analytics.history import HistoryStore, Result, Run, open_history
from testkit.analytics.polluter import (
    PolluterError,
    Search,
    bisect,
    check_victim,
    interpret,
    pick_run,
    plan_search,
    search_from_collection,
    search_from_run,
)

# Renamed: pytest would collect a module-level name starting with "test".
from testkit.analytics.polluter import testids_file as ids_file_of
from testkit.analytics.polluter import tests_before as ran_before

COLLECTED = ["t.py::a", "t.py::b", "t.py::c", "t.py::victim", "t.py::d"]
SEARCH = Search("t.py::victim", ("t.py::a", "t.py::b", "t.py::c"), "run r1 (seed 7)", 7)


def result(nodeid: str, position: int, worker: str = "master", outcome: str = "passed") -> Result:
    return Result("r1", nodeid, outcome, 0, None, None, None, worker, position)


def make_run(run_id: str, started_at: float, seed: int = 7) -> Run:
    return Run(run_id, started_at, started_at + 1, seed, "MOCK", "tests", "code", "[]", 0, 0)


def record(
    store: HistoryStore, run: Run, order: list[str], outcomes: dict[str, str] | None = None
) -> None:
    store.start_run(run)
    store.add_results(
        (
            run.run_id,
            nodeid,
            (outcomes or {}).get(nodeid, "passed"),
            0,
            None,
            None,
            None,
            "master",
            n,
        )
        for n, nodeid in enumerate(order, start=1)
    )


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return open_history(tmp_path / "history.db", create=True)


# --- which run -------------------------------------------------------------------------------
def test_the_newest_run_the_victim_failed_in_is_bisected_even_if_it_passed_since() -> None:
    appearances = [("r3", "passed"), ("r2", "failed"), ("r1", "error")]

    assert pick_run(appearances) == "r2"


def test_with_no_failure_the_newest_run_holding_the_victim_is_bisected() -> None:
    assert pick_run([("r3", "passed"), ("r2", "skipped")]) == "r3"
    assert pick_run([]) is None


# --- which tests, in which order -------------------------------------------------------------
def test_tests_before_follows_the_recorded_positions_not_the_row_order() -> None:
    rows = [result("c", 3), result("victim", 4), result("a", 1), result("b", 2), result("d", 5)]

    assert ran_before(rows, "victim") == ("a", "b", "c")


def test_under_xdist_only_the_victims_own_worker_ran_before_it() -> None:
    rows = [
        result("a", 1, "gw0"),
        result("other", 2, "gw1"),
        result("b", 3, "gw0"),
        result("later-elsewhere", 4, "gw1"),
        result("victim", 5, "gw0"),
    ]

    assert ran_before(rows, "victim") == ("a", "b")


def test_a_victim_missing_from_the_run_has_nothing_before_it() -> None:
    assert ran_before([result("a", 1)], "victim") == ()


def test_a_run_search_drops_tests_no_longer_collected_and_carries_seed_and_mode() -> None:
    rows = [result("t.py::gone", 1), result("t.py::a", 2), result("t.py::victim", 3)]
    run = Run("r1", 1.0, 2.0, 99, "REAL", "tests", "code", "[]", 0, 1)

    search = search_from_run(run, rows, "t.py::victim", COLLECTED)

    assert search.candidates == ("t.py::a",)
    assert (search.origin, search.seed, search.mode) == ("run r1 (seed 99)", 99, "REAL")


def test_the_collection_order_search_takes_the_tests_collected_before_the_victim() -> None:
    search = search_from_collection(COLLECTED, "t.py::victim")

    assert search.candidates == ("t.py::a", "t.py::b", "t.py::c")
    assert (search.origin, search.seed, search.mode) == ("collection order", None, None)


def test_a_victim_pytest_does_not_collect_is_refused_naming_the_closest_ids() -> None:
    with pytest.raises(PolluterError, match=r"did you mean t\.py::victim, "):
        check_victim("t.py::victin", COLLECTED)
    with pytest.raises(PolluterError, match="give a node id from pytest -q"):
        check_victim("elsewhere.py::zzz", COLLECTED)


# --- planning: RUN, else the history, else the collection order ------------------------------
def test_without_a_history_the_collection_order_is_bisected() -> None:
    search = plan_search(None, "t.py::victim", COLLECTED, None)

    assert search.origin == "collection order"
    assert search.candidates == ("t.py::a", "t.py::b", "t.py::c")


def test_the_history_gives_the_order_of_the_newest_run_the_victim_failed_in(
    store: HistoryStore,
) -> None:
    record(
        store,
        make_run("old-fail", 1.0, seed=5),
        ["t.py::d", "t.py::b", "t.py::victim"],
        {"t.py::victim": "failed"},
    )
    record(store, make_run("new-pass", 2.0, seed=6), ["t.py::victim", "t.py::a"])

    search = plan_search(store, "t.py::victim", COLLECTED, None)

    assert search.candidates == ("t.py::d", "t.py::b")
    assert (search.origin, search.seed) == ("run old-fail (seed 5)", 5)


def test_a_history_that_never_ran_the_victim_falls_back_to_the_collection_order(
    store: HistoryStore,
) -> None:
    record(store, make_run("r1", 1.0), ["t.py::a", "t.py::b"])

    search = plan_search(store, "t.py::victim", COLLECTED, None)

    assert search.origin == "collection order"


def test_an_explicit_run_is_bisected_in_its_own_order(store: HistoryStore) -> None:
    record(store, make_run("chosen", 1.0), ["t.py::c", "t.py::a", "t.py::victim", "t.py::b"])
    record(store, make_run("newer", 2.0), ["t.py::b", "t.py::victim"], {"t.py::victim": "failed"})

    search = plan_search(store, "t.py::victim", COLLECTED, "chosen")

    assert search.candidates == ("t.py::c", "t.py::a")


def test_an_unknown_run_or_one_without_the_victim_is_refused(store: HistoryStore) -> None:
    record(store, make_run("r1", 1.0), ["t.py::a"])

    with pytest.raises(PolluterError, match="RUN=nope is not in the test history"):
        plan_search(store, "t.py::victim", COLLECTED, "nope")
    with pytest.raises(PolluterError, match=r"run r1 did not run t\.py::victim"):
        plan_search(store, "t.py::victim", COLLECTED, "r1")
    with pytest.raises(PolluterError, match="RUN=r1 is not in the test history"):
        plan_search(None, "t.py::victim", COLLECTED, "r1")


def test_a_victim_not_collected_is_refused_before_the_history_is_read() -> None:
    with pytest.raises(PolluterError, match="is not a test pytest collects here"):
        plan_search(None, "t.py::missing", COLLECTED, None)


# --- detect-test-pollution's output -> the verdict -------------------------------------------
FOUND_OUTPUT = """\
discovering all tests...
-> pre-discovered 4 tests!
ensuring test passes by itself...
-> OK!
ensuring test fails with test group...
-> OK!
running step 1:
- 3 tests remaining (about 2 steps)
running step 2:
- 2 tests remaining (about 1 steps)
double checking we found it...
-> the polluting test is: t.py::b
"""


def test_the_named_polluting_test_is_the_verdict() -> None:
    verdict = interpret(FOUND_OUTPUT, SEARCH)

    assert (verdict.kind, verdict.polluter, verdict.found) == ("found", "t.py::b", True)
    assert verdict.message == (
        "t.py::victim fails after t.py::b and passes alone: t.py::b is the polluter "
        "(bisected 3 tests that ran before it, run r1 (seed 7))"
    )


def test_a_victim_failing_alone_is_not_order_dependent() -> None:
    output = (
        "discovering all tests...\n-> pre-discovered 4 tests!\n"
        "ensuring test passes by itself...\n-> test failed! (output printed above)\n"
    )

    verdict = interpret(output, SEARCH)

    assert (verdict.kind, verdict.polluter, verdict.found) == ("alone-fails", None, False)
    assert "fails when run alone, so it is not order-dependent" in verdict.message


def test_a_victim_passing_after_all_its_predecessors_has_no_polluter_among_them() -> None:
    output = (
        "ensuring test passes by itself...\n-> OK!\n"
        "ensuring test fails with test group...\n-> expected failure -- but it passed?\n"
    )

    verdict = interpret(output, SEARCH)

    assert (verdict.kind, verdict.polluter, verdict.found) == ("not-order-dependent", None, False)
    assert "passed after the 3 tests that ran before it (run r1 (seed 7))" in verdict.message


def test_output_without_a_verdict_is_an_error_quoting_its_last_lines() -> None:
    output = "discovering all tests...\nTraceback (most recent call last):\nKeyError: 't.py::a'\n"

    verdict = interpret(output, SEARCH)

    assert (verdict.kind, verdict.found) == ("error", False)
    assert verdict.message.endswith(
        "discovering all tests... | Traceback (most recent call last): | KeyError: 't.py::a'"
    )


def test_a_victim_with_no_test_before_it_is_judged_without_running_anything(
    tmp_path: Path,
) -> None:
    search = Search("t.py::a", (), "collection order")

    verdict = bisect(search, rootdir=tmp_path, base_environment={}, progress=print)

    assert verdict.kind == "not-order-dependent"
    assert "nothing can have polluted it" in verdict.message
    assert not (tmp_path / ".testkit").exists()


def test_the_testids_file_name_is_safe_for_any_node_id(tmp_path: Path) -> None:
    path = ids_file_of(tmp_path, "tests/t.py::test_x[a/b c]")

    assert path == tmp_path / ".testkit" / "polluter" / "tests_t.py__test_x_a_b_c_.txt"
