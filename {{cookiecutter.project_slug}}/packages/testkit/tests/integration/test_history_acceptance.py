"""The history recorder as users meet it: every run lands in .testkit/history.db, whole."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testkit.analytics.history import open_history
from testkit.cli import main
from testkit.impact.map import FileEntry, ImpactMap, write_map
from testkit.impact.plugin import DEFAULT_MAP

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")

SUITE = """
import pytest, time

def test_passes():
    pass

def test_fails():
    assert False

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known", strict=False)
def test_expected_failure():
    assert False

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_setup_error(broken):
    pass

def test_takes_a_while():
    time.sleep(0.02)
"""


def history_db(pytester: pytest.Pytester) -> Path:
    return pytester.path / ".testkit" / "history.db"


def test_a_run_records_each_tests_outcome_durations_seed_mode_and_selection(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)

    result = pytester.runpytest("-p", "no:randomly", "-k", "not nothing", "--testkit-seed", "99")

    result.assert_outcomes(passed=2, failed=1, skipped=1, xfailed=1, errors=1)
    store = open_history(history_db(pytester), create=False)
    [run] = store.recent_runs(5)
    assert (run.seed, run.mode, run.workers, run.exit_status) == (99, "MOCK", 0, 1)
    assert run.selection == ". -k 'not nothing'"
    assert len(run.fingerprint) == 16
    given = ["-p", "no:randomly", "-k", "not nothing", "--testkit-seed", "99"]
    assert json.loads(run.args)[: len(given)] == given
    outcomes = {r.nodeid.split("::")[1]: r.outcome for r in store.results(run.run_id)}
    assert outcomes == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_skipped": "skipped",
        "test_expected_failure": "xfailed",
        "test_setup_error": "error",
        "test_takes_a_while": "passed",
    }
    [slow] = [r for r in store.results(run.run_id) if r.nodeid.endswith("test_takes_a_while")]
    assert slow.call_s is not None
    assert slow.call_s >= 0.02
    assert slow.setup_s is not None
    assert slow.teardown_s is not None
    assert [r.position for r in store.results(run.run_id)] == [1, 2, 3, 4, 5, 6]
    assert {r.worker for r in store.results(run.run_id)} == {"master"}


def test_testkit_history_off_records_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTKIT_HISTORY", "off")
    pytester.makepyfile(test_suite="def test_a(): pass")

    pytester.runpytest().assert_outcomes(passed=1)

    assert not history_db(pytester).exists()


def test_a_foreign_history_file_stops_the_run_with_one_line_and_is_kept(
    pytester: pytest.Pytester,
) -> None:
    path = history_db(pytester)
    path.parent.mkdir()
    path.write_text("my notes, not a database\n")
    pytester.makepyfile(test_suite="def test_a(): pass")

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: {path} is not a testkit history database (not an SQLite file); move it away*"]
    )
    assert path.read_text() == "my notes, not a database\n"


def test_four_xdist_workers_lose_and_duplicate_no_row(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_many="""
        import pytest

        @pytest.mark.parametrize("case", range(120))
        def test_case(case):
            assert case % 40 != 7
        """
    )

    result = pytester.runpytest("-n", "4", "-p", "no:randomly")

    result.assert_outcomes(passed=117, failed=3)
    store = open_history(history_db(pytester), create=False)
    [run] = store.recent_runs(5)
    results = store.results(run.run_id)
    assert run.workers == 4
    assert len(results) == 120
    assert len({r.nodeid for r in results}) == 120
    assert sorted(r.position for r in results) == list(range(1, 121))
    assert {r.worker for r in results} <= {"gw0", "gw1", "gw2", "gw3"}
    assert len({r.worker for r in results}) > 1
    assert sum(r.outcome == "failed" for r in results) == 3


def test_a_run_killed_mid_way_leaves_a_readable_file_and_earlier_runs_intact(
    pytester: pytest.Pytester,
) -> None:
    """SIGKILL needs a real process: the recorder gets no chance to clean up."""
    pytester.makepyfile(
        test_slow="""
        import pytest, time

        @pytest.mark.parametrize("case", range(400))
        def test_case(case):
            time.sleep(0.01)
        """,
        test_quick="def test_quick(): pass",
    )
    pytester.runpytest("test_quick.py").assert_outcomes(passed=1)
    environment = {**os.environ, "TESTKIT_RUN_ID": "doomed"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "test_slow.py"],
        cwd=pytester.path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        committed = 0
        while committed < 50 and time.monotonic() < deadline:
            time.sleep(0.2)
            committed = _count_rows(history_db(pytester), "doomed")
        assert committed >= 50, "the killed run never committed a batch"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    connection = sqlite3.connect(history_db(pytester))
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    store = open_history(history_db(pytester), create=False)
    killed, earlier = store.recent_runs(5)
    assert (killed.run_id, killed.exit_status, killed.finished_at) == ("doomed", None, None)
    kept = store.results("doomed")
    assert 50 <= len(kept) < 400
    assert [r.position for r in kept] == list(range(1, len(kept) + 1))
    assert earlier.exit_status == 0
    assert [r.outcome for r in store.results(earlier.run_id)] == ["passed"]


def _count_rows(path: Path, run_id: str) -> int:
    if not path.exists():
        return 0
    try:
        connection = sqlite3.connect(path, timeout=5)
        try:
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM results WHERE run_id = ?", (run_id,)
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    return int(count)


def test_testkit_history_lists_runs_and_an_unknown_run_lists_recent_ones(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_suite="def test_a(): pass")
    pytester.runpytest().assert_outcomes(passed=1)
    capsys.readouterr()
    [run] = open_history(history_db(pytester), create=False).recent_runs(1)

    assert main(["history"]) == 0
    listing = capsys.readouterr().out
    assert run.run_id in listing
    assert "ok" in listing

    assert main(["history", "--run", "nope"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("testkit history: no run 'nope' in ")
    assert f"recent runs: {run.run_id}" in error


def test_a_regression_gets_a_summary_section_and_a_steady_run_does_not(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_timed="""
        import os, time

        def test_timed():
            time.sleep(float(os.environ.get("SLEEP", "0.06")))
        """
    )
    for _ in range(5):
        result = pytester.runpytest("-p", "no:randomly")
        result.assert_outcomes(passed=1)
    assert "duration regressions" not in result.stdout.str()

    monkeypatch.setenv("SLEEP", "0.3")
    result = pytester.runpytest("-p", "no:randomly")

    result.stdout.fnmatch_lines(
        [
            "*testkit duration regressions*",
            "SLOWER test_timed.py::test_timed: 0.3*s vs median 0.06*",
        ]
    )
    capsys.readouterr()
    assert main(["durations", "--fail-on-regression"]) == 1
    assert "SLOWER test_timed.py::test_timed" in capsys.readouterr().out


def test_each_result_carries_its_tests_own_code_once_an_impact_map_knows_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_a="def test_a():\n    pass\n", test_b="def test_b():\n    pass\n")
    entry = FileEntry("test_a.py", "s", "d", frozenset({"test_a.py::test_a"}), (), ())
    write_map(
        ImpactMap(0.0, {entry.path: entry}, frozenset({"test_a.py::test_a"})),
        pytester.path / DEFAULT_MAP,
    )

    def codes() -> dict[str, str | None]:
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
        store = open_history(history_db(pytester), create=False)
        run = store.recent_runs(1)[0]
        return {result.nodeid: result.code for result in store.results(run.run_id)}

    first = codes()
    pytester.makepyfile(test_b="def test_b():\n    assert True\n")  # not test_a's code
    second = codes()
    pytester.makepyfile(test_a="def test_a():\n    assert True\n")
    third = codes()

    assert first["test_b.py::test_b"] is None  # unknown to the map: the run's code stands in
    assert first["test_a.py::test_a"] is not None
    assert second["test_a.py::test_a"] == first["test_a.py::test_a"]
    assert third["test_a.py::test_a"] != first["test_a.py::test_a"]
