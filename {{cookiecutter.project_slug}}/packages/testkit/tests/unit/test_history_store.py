"""The history file: schema, read API, migrations, and refusing files that are not ours."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from testkit.analytics import history
from testkit.analytics.history import (
    HistoryError,
    OutcomeCounts,
    Run,
    migrate,
    open_history,
    resolve_history_path,
)


def make_run(run_id: str, *, started_at: float, fingerprint: str = "code1") -> Run:
    return Run(run_id, started_at, None, 42, "MOCK", "tests", fingerprint, "[]", 0, None)


def row(
    run_id: str, nodeid: str, outcome: str, position: int, call_s: float = 0.01
) -> tuple[object, ...]:
    return (run_id, nodeid, outcome, 0, 0.001, call_s, 0.001, "master", position)


def test_a_new_file_gets_the_meta_rows_of_schema_version_4(tmp_path: Path) -> None:
    store = open_history(tmp_path / "h.db", create=True)

    meta = dict(store.connection.execute("SELECT key, value FROM meta"))

    assert meta == {"application": "testkit-history", "schema_version": "4"}
    assert store.connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_runs_and_results_read_back_as_dataclasses_newest_run_first(tmp_path: Path) -> None:
    store = open_history(tmp_path / "h.db", create=True)
    store.start_run(make_run("r1", started_at=1.0))
    store.start_run(make_run("r2", started_at=2.0))
    store.add_results([row("r2", "t::b", "failed", 2), row("r2", "t::a", "passed", 1)])
    store.finish_run("r2", 3.0, 1)

    runs = store.recent_runs(10)
    results = store.results("r2")

    assert [run.run_id for run in runs] == ["r2", "r1"]
    assert (runs[0].finished_at, runs[0].exit_status, runs[1].exit_status) == (3.0, 1, None)
    assert [(r.nodeid, r.outcome, r.position) for r in results] == [
        ("t::a", "passed", 1),
        ("t::b", "failed", 2),
    ]


def test_outcomes_by_fingerprint_counts_passes_and_failures_per_code_version(
    tmp_path: Path,
) -> None:
    store = open_history(tmp_path / "h.db", create=True)
    for number, (fingerprint, outcome) in enumerate(
        [("c1", "passed"), ("c1", "error"), ("c2", "passed"), ("c2", "skipped")]
    ):
        store.start_run(make_run(f"r{number}", started_at=number, fingerprint=fingerprint))
        store.add_results([row(f"r{number}", "t::x", outcome, 1)])

    counts = store.outcomes_by_fingerprint()

    assert counts[("t::x", "c1")] == OutcomeCounts(passed=1, failed=1, other=0)
    assert counts[("t::x", "c1")].flaky
    assert counts[("t::x", "c2")] == OutcomeCounts(passed=1, failed=0, other=1)
    assert not counts[("t::x", "c2")].flaky
    assert set(store.outcomes_by_fingerprint(last_runs=2)) == {("t::x", "c2")}


def test_a_file_that_is_not_sqlite_is_refused_in_one_line_and_left_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.db"
    path.write_text("not a database\n" * 10)
    before = path.read_bytes()

    with pytest.raises(HistoryError) as raised:
        open_history(path, create=True)

    message = str(raised.value)
    assert "\n" not in message
    assert str(path) in message
    assert "not an SQLite file" in message
    assert "TESTKIT_HISTORY" in message
    assert path.read_bytes() == before


def test_a_foreign_sqlite_file_is_refused_and_keeps_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.close()

    with pytest.raises(HistoryError, match="SQLite database but not a testkit history"):
        open_history(path, create=True)

    with sqlite3.connect(path) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master")]
    connection.close()
    assert tables == ["invoices"]


def test_reading_a_missing_history_says_to_run_the_tests(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"no test history at .*run the tests first"):
        open_history(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_file_from_a_newer_testkit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    open_history(path, create=True).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    connection.close()

    with pytest.raises(HistoryError, match="schema version 7, newer than this testkit's 4"):
        open_history(path, create=False)


def version_1_file(path: Path) -> None:
    """A history file as testkit wrote it before the perf runs (schema version 1)."""
    connection = sqlite3.connect(path)
    migrate(connection, path, target=1)
    with connection:
        connection.execute(
            "INSERT INTO runs VALUES ('old', 1.0, 2.0, 42, 'MOCK', 'tests', 'code1', '[]', 0, 0)"
        )
    connection.close()


def test_a_version_1_file_gains_the_perf_and_mutation_tables_and_keeps_its_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.db"
    version_1_file(path)

    store = open_history(path, create=False)

    tables = {name for (name,) in store.connection.execute("SELECT name FROM sqlite_master")}
    assert {"perf_runs", "perf_figures", "mutation_scores"} <= tables
    assert [run.run_id for run in store.recent_runs()] == ["old"]
    version = store.connection.execute("SELECT value FROM meta WHERE key='schema_version'")
    assert version.fetchone() == ("4",)


def test_an_older_file_is_migrated_in_place_keeping_its_rows(tmp_path: Path) -> None:
    """A version-1 fixture file upgraded by a (test) migration table to version 2."""
    path = tmp_path / "h.db"
    version_1_file(path)

    def add_branch_column(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE runs ADD COLUMN branch TEXT")

    migrations = {**history.MIGRATIONS, 1: add_branch_column}
    connection = sqlite3.connect(path)
    found = migrate(connection, path, migrations=migrations, target=2)

    assert found == 1
    assert connection.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        "2",
    )
    assert connection.execute("SELECT run_id, branch FROM runs").fetchall() == [("old", None)]
    connection.close()


def test_passing_call_series_lists_each_tests_passes_oldest_first_in_finished_runs(
    tmp_path: Path,
) -> None:
    store = open_history(tmp_path / "h.db", create=True)
    for number in range(3):
        store.start_run(make_run(f"r{number}", started_at=float(number)))
        store.add_results(
            [
                row(f"r{number}", "t::a", "passed", 1, call_s=0.1 * (number + 1)),
                row(f"r{number}", "t::b", "failed" if number == 1 else "passed", 2),
            ]
        )
        if number < 2:  # r2 is still running: not read
            store.finish_run(f"r{number}", number + 0.5, 0)

    series = store.passing_call_series(last_runs=10)

    assert series == {
        "t::a": [("r0", 0.0, pytest.approx(0.1)), ("r1", 1.0, pytest.approx(0.2))],
        "t::b": [("r0", 0.0, 0.01)],
    }
    assert list(store.passing_call_series(last_runs=1)) == ["t::a"]


def test_history_path_defaults_under_the_rootdir_and_off_disables_it(tmp_path: Path) -> None:
    assert resolve_history_path(None, tmp_path) == tmp_path / ".testkit" / "history.db"
    assert resolve_history_path("ci/h.db", tmp_path) == tmp_path / "ci" / "h.db"
    assert resolve_history_path("OFF", tmp_path) is None


def test_pass_fail_sequence_gives_each_result_its_own_code_else_its_runs(tmp_path: Path) -> None:
    store = open_history(tmp_path / "h.db", create=True)
    store.start_run(make_run("r1", started_at=1.0, fingerprint="run-code"))
    store.add_results(
        [
            (*row("r1", "t::a", "passed", 1), "a-code"),
            row("r1", "t::b", "failed", 2),  # recorded without its own code
            row("r1", "t::c", "skipped", 3),  # neither a pass nor a failure: left out
        ]
    )

    assert store.pass_fail_sequence() == [
        ("t::a", "r1", "a-code", False),
        ("t::b", "r1", "run-code", True),
    ]
