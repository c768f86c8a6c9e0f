"""The run history: .testkit/history.db, one row per run and one per test result.

SQLite in WAL mode: a reader (the dashboard, `testkit history`) never blocks the run writing,
and a run killed mid-way loses only the rows it had not committed yet; the file stays valid.
The schema is versioned in `meta`; MIGRATIONS upgrades an older file in place (version 0 is
"no tables yet", so creating a file is migrating it from 0); version 2 added the perf runs
(`perf_runs`, `perf_figures`, written and read by testkit.analytics.perf_history), version 3
the mutation scores (`mutation_scores`, testkit.mutation.history), version 4 each result's
own code fingerprint (`results.code`, testkit.analytics.test_code). A file that
is not SQLite, or is SQLite but not ours, is refused with one line naming it, and is never
written to.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from testkit import options, report_files

APPLICATION = "testkit-history"
SCHEMA_VERSION = 4
DEFAULT_PATH = report_files.HISTORY
SQLITE_HEADER = b"SQLite format 3\x00"
# Outcomes a result row may hold (pytest's, with setup/teardown failures as "error").
OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
FAILING_OUTCOMES = frozenset({"failed", "error"})

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    seed INTEGER,
    mode TEXT NOT NULL,
    selection TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    args TEXT NOT NULL,
    workers INTEGER NOT NULL,
    exit_status INTEGER
);
CREATE TABLE results (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    nodeid TEXT NOT NULL,
    outcome TEXT NOT NULL,
    quarantined INTEGER NOT NULL DEFAULT 0,
    setup_s REAL,
    call_s REAL,
    teardown_s REAL,
    worker TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (run_id, nodeid)
);
CREATE INDEX runs_started_at ON runs(started_at);
CREATE INDEX results_nodeid ON results(nodeid);
"""

# One row per `testkit perf run|baseline|gate|ab` summary, and its figures per scope ('total'
# or an endpoint) and metric (p50_ms, rps, ...): the series the change-point detector reads.
_SCHEMA_V2 = """
CREATE TABLE perf_runs (
    perf_run INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at REAL NOT NULL,
    kind TEXT NOT NULL,
    profile TEXT NOT NULL,
    commit_id TEXT,
    dirty INTEGER NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE perf_figures (
    perf_run INTEGER NOT NULL REFERENCES perf_runs(perf_run),
    scope TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (perf_run, scope, metric)
);
CREATE INDEX perf_runs_profile ON perf_runs(profile, kind, recorded_at);
"""


# One row per `testkit mutation` run: what it scored ('all': every service function, nightly;
# 'changed': the lines changed since a base) and how many of its mutants the tests killed.
_MUTATION_SCORES_V3 = """
CREATE TABLE mutation_scores (
    recorded_at REAL NOT NULL,
    commit_id TEXT,
    dirty INTEGER NOT NULL,
    scope TEXT NOT NULL,
    killed INTEGER NOT NULL,
    total INTEGER NOT NULL
);
CREATE INDEX mutation_scores_at ON mutation_scores(scope, recorded_at);
"""


# Each result's own code: a fingerprint of the files its test executed (NULL: unknown, and the
# run's fingerprint stands in), so its history is not split by changes to code it never runs.
_TEST_CODE_V4 = "ALTER TABLE results ADD COLUMN code TEXT;"


class HistoryError(Exception):
    """The history file cannot be used; the message is one line naming the file and the fix."""


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    started_at: float
    finished_at: float | None
    seed: int | None
    mode: str
    selection: str
    fingerprint: str
    args: str  # JSON list of the pytest arguments
    workers: int  # xdist workers; 0 when the run was not distributed
    exit_status: int | None  # None while running, or when the run was killed


@dataclass(frozen=True, slots=True)
class Result:
    run_id: str
    nodeid: str
    outcome: str
    quarantined: int
    setup_s: float | None
    call_s: float | None
    teardown_s: float | None
    worker: str
    position: int
    code: str | None = None  # the test's own code fingerprint (schema 4); None: the run's


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    """How often one test passed and failed on one code fingerprint."""

    passed: int = 0
    failed: int = 0  # failed or error
    other: int = 0  # skipped, xfailed, xpassed

    @property
    def flaky(self) -> bool:
        return self.passed > 0 and self.failed > 0


def _create_v1(connection: sqlite3.Connection) -> None:
    connection.executescript(_SCHEMA_V1)
    connection.execute("INSERT INTO meta VALUES ('application', ?)", (APPLICATION,))


def _add_perf_runs_v2(connection: sqlite3.Connection) -> None:
    connection.executescript(_SCHEMA_V2)


Migration = Callable[[sqlite3.Connection], None]


def _add_mutation_scores_v3(connection: sqlite3.Connection) -> None:
    connection.executescript(_MUTATION_SCORES_V3)


def _add_test_code_v4(connection: sqlite3.Connection) -> None:
    connection.executescript(_TEST_CODE_V4)


# MIGRATIONS[v] upgrades a file at version v to v + 1. Append, never edit a released step.
MIGRATIONS: Mapping[int, Migration] = {
    0: _create_v1,
    1: _add_perf_runs_v2,
    2: _add_mutation_scores_v3,
    3: _add_test_code_v4,
}


def _check_header(path: Path) -> None:
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise HistoryError(
            f"{path} is not a testkit history database (not an SQLite file); "
            "move it away or set TESTKIT_HISTORY to another path (or off)"
        )


def _file_version(connection: sqlite3.Connection, path: Path) -> int:
    """0 for an empty file; the meta schema_version for ours; HistoryError for anything else."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if not tables:
        return 0
    application = None
    if "meta" in tables:
        row = connection.execute("SELECT value FROM meta WHERE key = 'application'").fetchone()
        application = row[0] if row else None
    if application != APPLICATION:
        raise HistoryError(
            f"{path} is an SQLite database but not a testkit history (no meta application "
            f"'{APPLICATION}'); move it away or set TESTKIT_HISTORY to another path (or off)"
        )
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 1
    except ValueError:
        raise HistoryError(
            f"{path}: meta schema_version is {row[0]!r}, not an integer; "
            "move the file away to start a new history"
        ) from None


def migrate(
    connection: sqlite3.Connection,
    path: Path,
    *,
    migrations: Mapping[int, Migration] = MIGRATIONS,
    target: int = SCHEMA_VERSION,
) -> int:
    """Bring the file to `target`, one step per transaction; returns the version it was at."""
    found = _file_version(connection, path)
    if found > target:
        raise HistoryError(
            f"{path} has history schema version {found}, newer than this testkit's {target}; "
            "upgrade testkit (uv sync) or set TESTKIT_HISTORY to another path"
        )
    for version in range(found, target):
        step = migrations.get(version)
        if step is None:
            raise HistoryError(f"{path}: no migration from history schema version {version}")
        with connection:
            step(connection)
            connection.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version + 1),)
            )
    return found


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection to a checked, migrated history file (see the module docstring)."""
    if path.exists():
        if not path.is_file():
            raise HistoryError(f"{path} is not a file; set TESTKIT_HISTORY to a file path (or off)")
        _check_header(path)
    elif not create:
        raise HistoryError(f"no test history at {path}: run the tests first (make test)")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(path, timeout=10.0, isolation_level="DEFERRED")
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a killed process loses nothing committed (only an OS crash could).
        connection.execute("PRAGMA synchronous=NORMAL")
        migrate(connection, path)
    except sqlite3.DatabaseError as error:
        raise HistoryError(
            f"{path} is not a readable testkit history ({error}); "
            "move it away or set TESTKIT_HISTORY to another path (or off)"
        ) from None
    return connection


class HistoryStore:
    """Reads and writes one history file. Writers: the recorder plugin only."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    def close(self) -> None:
        self.connection.close()

    # --- writing (the recorder) -------------------------------------------------------------
    def start_run(self, run: Run) -> None:
        if self.run(run.run_id) is not None:
            raise HistoryError(
                f"run id {run.run_id!r} is already in {self.path}: TESTKIT_RUN_ID must be unique"
            )
        with self.connection:
            self.connection.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    run.started_at,
                    run.finished_at,
                    run.seed,
                    run.mode,
                    run.selection,
                    run.fingerprint,
                    run.args,
                    run.workers,
                    run.exit_status,
                ),
            )

    def set_selection(self, run_id: str, selection: str) -> None:
        with self.connection:
            self.connection.execute(
                "UPDATE runs SET selection = ? WHERE run_id = ?", (selection, run_id)
            )

    def add_results(self, rows: Iterable[Sequence[object]]) -> None:
        """Insert result rows (in Result field order; `code` may be left off) in one transaction."""
        width = len(Result.__dataclass_fields__)
        with self.connection:
            self.connection.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((*row, *(None,) * (width - len(row))) for row in rows),
            )

    def finish_run(self, run_id: str, finished_at: float, exit_status: int) -> None:
        with self.connection:
            self.connection.execute(
                "UPDATE runs SET finished_at = ?, exit_status = ? WHERE run_id = ?",
                (finished_at, exit_status, run_id),
            )

    # --- reading ------------------------------------------------------------------------------
    def recent_runs(self, limit: int = 20) -> list[Run]:
        """The newest runs first."""
        rows = self.connection.execute(
            "SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)
        )
        return [Run(*row) for row in rows]

    def run(self, run_id: str) -> Run | None:
        row = self.connection.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return Run(*row) if row else None

    def results(self, run_id: str) -> list[Result]:
        """The run's results in the order they were recorded."""
        rows = self.connection.execute(
            "SELECT * FROM results WHERE run_id = ? ORDER BY position", (run_id,)
        )
        return [Result(*row) for row in rows]

    def results_of_runs(self, run_ids: Sequence[str]) -> list[Result]:
        if not run_ids:
            return []
        marks = ",".join("?" * len(run_ids))
        rows = self.connection.execute(
            f"SELECT * FROM results WHERE run_id IN ({marks}) ORDER BY run_id, position",
            tuple(run_ids),
        )
        return [Result(*row) for row in rows]

    def outcomes_by_fingerprint(
        self, *, fingerprint: str | None = None, last_runs: int | None = None
    ) -> dict[tuple[str, str], OutcomeCounts]:
        """(nodeid, fingerprint) -> outcome counts, over all runs or the newest `last_runs`."""
        query = (
            "SELECT results.nodeid, runs.fingerprint, results.outcome, COUNT(*)"
            " FROM results JOIN runs USING (run_id)"
        )
        conditions: list[str] = []
        parameters: list[object] = []
        if fingerprint is not None:
            conditions.append("runs.fingerprint = ?")
            parameters.append(fingerprint)
        if last_runs is not None:
            conditions.append(
                "results.run_id IN (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT ?)"
            )
            parameters.append(last_runs)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " GROUP BY results.nodeid, runs.fingerprint, results.outcome"
        counts: dict[tuple[str, str], OutcomeCounts] = {}
        for nodeid, run_fingerprint, outcome, count in self.connection.execute(query, parameters):
            key = (nodeid, run_fingerprint)
            current = counts.get(key, OutcomeCounts())
            if outcome == "passed":
                current = OutcomeCounts(current.passed + count, current.failed, current.other)
            elif outcome in FAILING_OUTCOMES:
                current = OutcomeCounts(current.passed, current.failed + count, current.other)
            else:
                current = OutcomeCounts(current.passed, current.failed, current.other + count)
            counts[key] = current
        return counts

    def pass_fail_sequence(
        self, *, last_runs: int | None = None
    ) -> list[tuple[str, str, str, bool]]:
        """(nodeid, run_id, code, failed) of every pass and failure, oldest run first; `code` is
        the result's own code fingerprint, else its run's."""
        query = (
            "SELECT results.nodeid, results.run_id, COALESCE(results.code, runs.fingerprint),"
            " results.outcome FROM results JOIN runs USING (run_id)"
            " WHERE results.outcome IN ('passed', 'failed', 'error')"
        )
        parameters: list[object] = []
        if last_runs is not None:
            query += (
                " AND results.run_id IN (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT ?)"
            )
            parameters.append(last_runs)
        query += " ORDER BY runs.started_at, results.position"
        return [
            (nodeid, run_id, code, outcome in FAILING_OUTCOMES)
            for nodeid, run_id, code, outcome in self.connection.execute(query, parameters)
        ]

    def passing_call_durations(
        self, *, exclude_run: str | None, last_runs: int, nodeids: Iterable[str] | None = None
    ) -> dict[str, list[float]]:
        """nodeid -> call durations of its passing results, newest first, in the newest runs."""
        query = (
            "SELECT results.nodeid, results.call_s FROM results JOIN runs USING (run_id)"
            " WHERE results.outcome = 'passed' AND results.call_s IS NOT NULL"
            " AND results.run_id IN (SELECT run_id FROM runs WHERE run_id != ?"
            " ORDER BY started_at DESC LIMIT ?)"
        )
        parameters: list[object] = [exclude_run or "", last_runs]
        wanted = None if nodeids is None else set(nodeids)
        durations: dict[str, list[float]] = {}
        rows = self.connection.execute(query + " ORDER BY runs.started_at DESC", parameters)
        for nodeid, call_s in rows:
            if wanted is None or nodeid in wanted:
                durations.setdefault(nodeid, []).append(call_s)
        return durations

    def passing_call_series(self, *, last_runs: int) -> dict[str, list[tuple[str, float, float]]]:
        """nodeid -> (run_id, started_at, call seconds) of its passes in the newest `last_runs`
        finished runs, oldest first."""
        rows = self.connection.execute(
            "SELECT results.nodeid, runs.run_id, runs.started_at, results.call_s"
            " FROM results JOIN runs USING (run_id)"
            " WHERE results.outcome = 'passed' AND results.call_s IS NOT NULL"
            " AND results.run_id IN (SELECT run_id FROM runs WHERE exit_status IS NOT NULL"
            " ORDER BY started_at DESC, rowid DESC LIMIT ?)"
            " ORDER BY runs.started_at, runs.rowid",
            (last_runs,),
        )
        series: dict[str, list[tuple[str, float, float]]] = {}
        for nodeid, run_id, started_at, call_s in rows:
            series.setdefault(nodeid, []).append((run_id, started_at, call_s))
        return series


def open_history(path: Path | str, *, create: bool) -> HistoryStore:
    """Open (and with create=True, make) a history file; HistoryError names a bad one."""
    resolved = Path(path)
    return HistoryStore(connect(resolved, create=create), resolved)


def resolve_history_path(raw: str | None, rootdir: Path) -> Path | None:
    """The history file for a setting value: default under rootdir, None when 'off'."""
    if raw is not None and raw.strip().lower() in {"off", "0", "false", "no", "none"}:
        return None
    path = Path(raw.strip()) if raw and raw.strip() else DEFAULT_PATH
    return path if path.is_absolute() else rootdir / path


def record_in_project_history(root: Path, write: Callable[[Path], None]) -> tuple[bool, str]:
    """Write to the project's history file (TESTKIT_HISTORY, default .testkit/history.db) with
    `write`: (whether it was recorded, one line saying where or why not). Never raises: the
    callers (perf runs, the mutation gate) have measured and written their results already."""
    path = resolve_history_path(options.env_setting(options.HISTORY), root)
    if path is None:
        return False, "not recorded in the history (TESTKIT_HISTORY is off)"
    try:
        write(path)
    except (HistoryError, ValueError, OSError, sqlite3.Error) as error:
        return False, f"not recorded in the history: {error}"
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return True, f"recorded in {shown}"
