"""The analytics subcommands: `testkit history | durations | flaky | quarantine | replay`.

They run from the project root (where make runs them), read the history named by
TESTKIT_HISTORY (default .testkit/history.db) and the quarantine file named by
TESTKIT_QUARANTINE (default tests/quarantine.toml). Errors are one line and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from testkit import options
from testkit.analytics import durations as duration_policy
from testkit.analytics.flakiness_report import RerunError, collect_nodeids
from testkit.analytics.flaky import (
    DEFAULT_RUNS,
    GATE_WINDOW_RUNS,
    evaluate_flakiness_gate,
    flaky_rate,
    flaky_tests,
)
from testkit.analytics.history import HistoryError, HistoryStore, Run, open_history
from testkit.analytics.quarantine import DEFAULT_PATH as QUARANTINE_PATH
from testkit.analytics.quarantine import QuarantineEntry, QuarantineError, load_quarantine
from testkit.analytics.replay import execute, plan_replay
from testkit.arguments import non_negative_seconds, positive_int

DEFAULT_FLAKY_BUDGET = 5.0
GATE_REPORT = Path("reports") / "flakiness-gate.json"


class CommandError(Exception):
    """A user error: printed as one line, exit code 2."""


def _history_path(rootdir: Path) -> Path:
    raw = options.env_setting(options.HISTORY)
    if raw is not None and raw.lower() in {"off", "0", "false", "no", "none"}:
        raise CommandError("TESTKIT_HISTORY is off: there is no history to read")
    path = Path(raw) if raw else Path(".testkit") / "history.db"
    return path if path.is_absolute() else rootdir / path


def _store(rootdir: Path) -> HistoryStore:
    try:
        return open_history(_history_path(rootdir), create=False)
    except HistoryError as error:
        raise CommandError(str(error)) from None


def _quarantine(rootdir: Path) -> tuple[QuarantineEntry, ...]:
    raw = options.env_setting(options.QUARANTINE)
    try:
        return load_quarantine(rootdir / (raw or QUARANTINE_PATH))
    except QuarantineError as error:
        raise CommandError(str(error)) from None


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _status(run: Run) -> str:
    if run.exit_status is None:
        return "unfinished"
    return "ok" if run.exit_status == 0 else f"exit {run.exit_status}"


def _unknown_run(store: HistoryStore, run_id: str) -> CommandError:
    recent = store.recent_runs(10)
    listing = ", ".join(run.run_id for run in recent) or "none recorded"
    return CommandError(f"no run {run_id!r} in {store.path}; recent runs: {listing}")


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- testkit history --------------------------------------------------------------------------
def run_history(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    store = _store(rootdir)
    if arguments.run:
        run = store.run(arguments.run)
        if run is None:
            raise _unknown_run(store, arguments.run)
        rows = [["#", "outcome", "setup s", "call s", "teardown s", "worker", "test"]]
        for result in store.results(run.run_id):
            outcome = result.outcome + (" (quarantined)" if result.quarantined else "")
            rows.append(
                [
                    str(result.position),
                    outcome,
                    f"{result.setup_s or 0:.3f}",
                    f"{result.call_s or 0:.3f}",
                    f"{result.teardown_s or 0:.3f}",
                    result.worker,
                    result.nodeid,
                ]
            )
        print(f"run {run.run_id}: seed {run.seed} mode {run.mode} selection {run.selection}")
        print(_table(rows))
        return 0
    runs = store.recent_runs(arguments.limit)
    if not runs:
        print(f"{store.path}: no runs recorded yet")
        return 0
    rows = [
        [
            "run",
            "started",
            "seconds",
            "tests",
            "failed",
            "status",
            "seed",
            "mode",
            "code",
            "selection",
        ]
    ]
    for run in runs:
        results = store.results(run.run_id)
        failed = sum(result.outcome in {"failed", "error"} for result in results)
        seconds = f"{run.finished_at - run.started_at:.1f}" if run.finished_at else "-"
        rows.append(
            [
                run.run_id,
                _when(run.started_at),
                seconds,
                str(len(results)),
                str(failed),
                _status(run),
                str(run.seed),
                run.mode,
                run.fingerprint,
                run.selection,
            ]
        )
    print(_table(rows))
    return 0


# --- testkit durations ------------------------------------------------------------------------
def run_durations(arguments: argparse.Namespace) -> int:
    store = _store(Path.cwd())
    policy = duration_policy.Policy(window=arguments.window, floor_s=arguments.floor)
    runs = [run for run in store.recent_runs(50) if run.exit_status is not None]
    run = store.run(arguments.run) if arguments.run else (runs[0] if runs else None)
    if arguments.run and run is None:
        raise _unknown_run(store, arguments.run)
    if run is None:
        print(f"{store.path}: no finished run recorded yet")
        return 0
    current = {
        result.nodeid: result.call_s
        for result in store.results(run.run_id)
        if result.outcome == "passed" and result.call_s is not None
    }
    history = store.passing_call_durations(exclude_run=run.run_id, last_runs=policy.window * 3)
    found = duration_policy.regressions(current, history, policy)
    print(
        f"duration regressions in run {run.run_id} (against up to {policy.window} earlier passes):"
    )
    for verdict in found:
        print("  " + duration_policy.format_regression(verdict))
    if not found:
        print("  none")
    print(f"slowest tests (median call time over their last {policy.window} passes):")
    everything = dict(history)
    for nodeid, seconds in current.items():
        everything[nodeid] = [seconds, *everything.get(nodeid, [])]
    for test in duration_policy.slowest(everything, arguments.top, policy):
        print(f"  {test.median_s:8.3f}s  {test.nodeid}  ({test.samples} runs)")
    return 1 if found and arguments.fail_on_regression else 0


# --- testkit flaky ----------------------------------------------------------------------------
def _flaky_budget(rootdir: Path) -> float:
    pyproject = rootdir / "pyproject.toml"
    if not pyproject.is_file():
        return DEFAULT_FLAKY_BUDGET
    try:
        table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("testkit", {})
    except tomllib.TOMLDecodeError as error:
        raise CommandError(f"{pyproject} is not valid TOML: {error}") from None
    raw = table.get("flaky_budget_percent", DEFAULT_FLAKY_BUDGET)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 100:
        raise CommandError(
            f"[tool.testkit] flaky_budget_percent in {pyproject} must be a number from 0 to 100, "
            f"got {raw!r}"
        )
    return float(raw)


def run_flaky(arguments: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = {
        "list": _flaky_list,
        "report": _flaky_report,
        "gate": _flaky_gate,
    }[arguments.action]
    return handler(arguments)


def _flaky_list(arguments: argparse.Namespace) -> int:
    store = _store(Path.cwd())
    counts = store.outcomes_by_fingerprint(last_runs=arguments.window)
    found = flaky_tests(counts)
    if not found:
        print(f"no flaky test in the last {arguments.window} runs")
        return 0
    print(f"flaky tests in the last {arguments.window} runs (passed and failed on the same code):")
    for nodeid, fingerprints in sorted(found.items()):
        outcome = [counts[(nodeid, fingerprint)] for fingerprint in fingerprints]
        passed = sum(count.passed for count in outcome)
        failed = sum(count.failed for count in outcome)
        print(f"  {nodeid}: passed {passed}, failed {failed} (code {', '.join(fingerprints)})")
    return 0


def _flaky_report(arguments: argparse.Namespace) -> int:
    from testkit.analytics.flakiness_report import flakiness_report

    rootdir = Path.cwd()
    store = _store(rootdir) if not arguments.all else _open_or_create(rootdir)
    entries = _quarantine(rootdir)
    try:
        rows = flakiness_report(
            store,
            entries,
            rootdir=rootdir,
            runs=arguments.runs,
            run_all=arguments.all,
            output_dir=Path(arguments.output_dir),
            extra_args=arguments.pytest_args,
            progress=lambda line: print(line, flush=True),
        )
    except RerunError as error:
        raise CommandError(str(error)) from None
    for row in rows:
        if row.verdict != "healthy":
            print(
                f"  {row.verdict.upper():7} {row.nodeid}: failed {row.failures}/{row.runs} "
                f"({row.failure_rate:.0%}, 95% CI {row.ci_low:.0%}-{row.ci_high:.0%})"
            )
    return 0


def _open_or_create(rootdir: Path) -> HistoryStore:
    try:
        return open_history(_history_path(rootdir), create=True)
    except HistoryError as error:
        raise CommandError(str(error)) from None


def _flaky_gate(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    entries = _quarantine(rootdir)
    budget = _flaky_budget(rootdir)
    history = _history_path(rootdir)
    if history.exists():
        store = _store(rootdir)
        runs = len(store.recent_runs(arguments.window))
        rate = flaky_rate(store.outcomes_by_fingerprint(last_runs=arguments.window), runs)
    else:
        print(f"no history at {history} yet (run the tests to record one)")
        rate = flaky_rate({}, 0)
    try:
        collected = collect_nodeids(rootdir) if entries else []
    except RerunError as error:
        raise CommandError(str(error)) from None
    result = evaluate_flakiness_gate(
        rate=rate,
        budget_percent=budget,
        entries=entries,
        collected=collected,
        today=dt.date.today(),
    )
    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    verdict = "PASS" if result.passed else "FAIL"
    print(
        f"flakiness gate: {verdict}: flaky rate {rate.percent:.1f}% ({rate.flaky}/{rate.tests} "
        f"tests, last {rate.runs} runs), budget {budget:g}%; {len(entries)} quarantine entries"
    )
    for problem in result.problems:
        print(f"  {problem}")
    return 0 if result.passed else 1


# --- testkit quarantine -----------------------------------------------------------------------
def run_quarantine(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    entries = _quarantine(rootdir)
    if not entries:
        print(f"no quarantined tests ({rootdir / QUARANTINE_PATH})")
        return 0
    today = dt.date.today()
    rows = [["test", "owner", "expires", "reason"]]
    for entry in entries:
        days = (entry.expires - today).days
        expires = f"{entry.expires} (EXPIRED)" if days < 0 else f"{entry.expires} ({days} days)"
        rows.append([entry.nodeid, entry.owner, expires, entry.reason])
    print(_table(rows))
    return 0


# --- testkit replay ---------------------------------------------------------------------------
def run_replay(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    store = _store(rootdir)
    run = store.run(arguments.run_id)
    if run is None:
        raise _unknown_run(store, arguments.run_id)
    results = store.results(run.run_id)
    if not results:
        raise CommandError(f"run {run.run_id} recorded no test results: nothing to replay")
    plan = plan_replay(run, results, rootdir=rootdir, extra_args=arguments.pytest_args)
    print(plan.describe(), flush=True)
    for note in plan.notes:
        print(f"note: {note}", flush=True)
    if arguments.dry_run:
        print(" ".join(plan.command()))
        return 0
    store.close()
    return execute(plan, rootdir=rootdir, base_environment=dict(os.environ))


# --- registration -----------------------------------------------------------------------------
def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(arguments: argparse.Namespace) -> int:
        try:
            return handler(arguments)
        except CommandError as error:
            print(f"testkit {arguments.command}: {error}", file=sys.stderr)
            return 2

    return run


def add_command(commands: Any) -> None:
    history = commands.add_parser(
        "history",
        help="list recent test runs (or one run's results) from .testkit/history.db",
        description="Recent runs, newest first: tests, failures, seed, mode, code fingerprint.",
    )
    history.add_argument("--limit", type=positive_int, default=20, help="runs to show (default 20)")
    history.add_argument("--run", metavar="RUN_ID", help="show this run's test results instead")
    history.set_defaults(handler=_guarded(run_history))

    durations = commands.add_parser(
        "durations",
        help="duration regressions of the latest run and the slowest tests",
        description=duration_policy.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    durations.add_argument("--run", metavar="RUN_ID", help="judge this run (default: the latest)")
    durations.add_argument("--top", type=positive_int, default=10, help="slowest tests to list")
    durations.add_argument(
        "--window", type=positive_int, default=20, help="earlier passes forming a baseline"
    )
    durations.add_argument(
        "--floor",
        type=non_negative_seconds,
        default=0.05,
        help="slowdown always tolerated, seconds",
    )
    durations.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a test regressed"
    )
    durations.set_defaults(handler=_guarded(run_durations))

    flaky = commands.add_parser(
        "flaky",
        help="flaky tests: list from history, rerun suspects into a report, or gate",
        description="list: from history; report: rerun suspects N times; gate: the flakiness gate.",
    )
    actions = flaky.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="tests that passed and failed on the same code")
    listing.add_argument(
        "--window", type=positive_int, default=GATE_WINDOW_RUNS, help="newest runs"
    )
    report = actions.add_parser(
        "report", help="rerun suspects N times; write reports/flakiness.{md,json}"
    )
    report.add_argument(
        "--runs", type=positive_int, default=DEFAULT_RUNS, help="reruns (default 30)"
    )
    report.add_argument("--all", action="store_true", help="rerun every test, not just suspects")
    report.add_argument("--output-dir", default="reports", help="where to write (default reports)")
    report.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    gate = actions.add_parser(
        "gate", help="fail on expired/missing quarantine entries or a flaky rate over budget"
    )
    gate.add_argument("--window", type=positive_int, default=GATE_WINDOW_RUNS, help="newest runs")
    gate.add_argument("--output", default=str(GATE_REPORT), help="verdict JSON file")
    flaky.set_defaults(handler=_guarded(run_flaky))

    quarantine = commands.add_parser(
        "quarantine",
        help="list tests/quarantine.toml: owner, expiry, reason",
        description="List the quarantined tests; expired entries are marked EXPIRED.",
    )
    quarantine.set_defaults(handler=_guarded(run_quarantine))

    replay = commands.add_parser(
        "replay",
        help="re-run a recorded run's tests with its seed, order and mode",
        description="Re-run exactly the tests of a recorded run, in its order, seed and mode.",
    )
    replay.add_argument("run_id", metavar="RUN_ID", help="a run id from `testkit history`")
    replay.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    replay.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    replay.set_defaults(handler=_guarded(run_replay))
