"""The analytics subcommands: `testkit history | durations | flaky | quarantine | replay`.

They run from the project root (where make runs them), read the history named by
TESTKIT_HISTORY (default .testkit/history.db) and the quarantine file named by
TESTKIT_QUARANTINE (default tests/quarantine.toml). Errors are one line and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path
from typing import Any

from testkit import options
from testkit.analytics import durations as duration_policy
from testkit.analytics.command_support import (
    open_store,
    read_quarantine,
    status,
    table,
    unknown_run,
    when,
)
from testkit.analytics.flaky import (
    DEFAULT_RUNS,
    GATE_WINDOW_RUNS,
)
from testkit.analytics.flaky_commands import GATE_REPORT, run_flaky
from testkit.analytics.quarantine import DEFAULT_PATH as QUARANTINE_PATH
from testkit.analytics.replay import (
    BatchFileError,
    BatchResult,
    batch_summary,
    execute,
    parse_batch,
    plan_replay,
)
from testkit.arguments import non_negative_seconds, positive_int
from testkit.usage import UsageError


# --- testkit history --------------------------------------------------------------------------
def run_history(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    store = open_store(rootdir)
    if arguments.run:
        run = store.run(arguments.run)
        if run is None:
            raise unknown_run(store, arguments.run)
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
        print(table(rows))
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
                when(run.started_at),
                seconds,
                str(len(results)),
                str(failed),
                status(run),
                str(run.seed),
                run.mode,
                run.fingerprint,
                run.selection,
            ]
        )
    print(table(rows))
    return 0


# --- testkit durations ------------------------------------------------------------------------
def run_durations(arguments: argparse.Namespace) -> int:
    store = open_store(Path.cwd())
    policy = duration_policy.Policy(window=arguments.window, floor_s=arguments.floor)
    runs = [run for run in store.recent_runs(50) if run.exit_status is not None]
    run = store.run(arguments.run) if arguments.run else (runs[0] if runs else None)
    if arguments.run and run is None:
        raise unknown_run(store, arguments.run)
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


# --- testkit quarantine -----------------------------------------------------------------------
def run_quarantine(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    entries = read_quarantine(rootdir)
    if not entries:
        print(f"no quarantined tests ({rootdir / QUARANTINE_PATH})")
        return 0
    today = dt.date.today()
    rows = [["test", "owner", "expires", "reason"]]
    for entry in entries:
        days = (entry.expires - today).days
        expires = f"{entry.expires} (EXPIRED)" if days < 0 else f"{entry.expires} ({days} days)"
        rows.append([entry.nodeid, entry.owner, expires, entry.reason])
    print(table(rows))
    return 0


# --- testkit replay ---------------------------------------------------------------------------
def run_replay(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    store = open_store(rootdir)
    run = store.run(arguments.run_id)
    if run is None:
        raise unknown_run(store, arguments.run_id)
    results = store.results(run.run_id)
    if not results:
        raise UsageError(f"run {run.run_id} recorded no test results: nothing to replay")
    plan = plan_replay(run, results, rootdir=rootdir, extra_args=arguments.pytest_args)
    print(plan.describe(), flush=True)
    for note in plan.notes:
        print(f"note: {note}", flush=True)
    if arguments.dry_run:
        print(" ".join(plan.command()))
        return 0
    store.close()
    return execute(plan, rootdir=rootdir, base_environment=dict(os.environ))


# --- testkit replay-batch ---------------------------------------------------------------------
def run_replay_batch(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    batch_file = Path(arguments.file)
    if not batch_file.is_file():
        raise UsageError(f"replay-batch: {batch_file} not found (a file of run ids, one a line)")
    try:
        run_ids = parse_batch(batch_file.read_text(encoding="utf-8"), source=str(batch_file))
    except BatchFileError as error:
        raise UsageError(str(error)) from None
    store = open_store(rootdir)
    plans = []
    for run_id in run_ids:  # every id checked before anything runs
        run = store.run(run_id)
        if run is None:
            raise unknown_run(store, run_id)
        results = store.results(run.run_id)
        if not results:
            raise UsageError(f"run {run.run_id} recorded no test results: nothing to replay")
        plans.append(plan_replay(run, results, rootdir=rootdir, extra_args=arguments.pytest_args))
    store.close()
    outcomes: list[BatchResult] = []
    for plan in plans:
        log = rootdir / plan.args_file.with_suffix(".log")
        code = execute(plan, rootdir=rootdir, base_environment=dict(os.environ), log=log)
        outcomes.append(BatchResult(plan.run_id, len(plan.nodeids), code, log.relative_to(rootdir)))
        print(outcomes[-1].line(), flush=True)
    print(batch_summary(outcomes))
    return 0 if all(outcome.passed for outcome in outcomes) else 1


# --- testkit fix-quarantined ------------------------------------------------------------------
def run_fix_quarantined(arguments: argparse.Namespace) -> int:
    from testkit.analytics.flakiness_report import (
        RerunError,
        RerunPlan,
        collect_nodeids,
        run_reruns,
    )
    from testkit.analytics.quarantine_fix import decide, remove_entries

    rootdir = Path.cwd()
    entries = read_quarantine(rootdir)
    path = rootdir / (options.env_setting(options.QUARANTINE) or QUARANTINE_PATH)
    if not entries:
        print(f"no quarantined tests ({path}): nothing to fix")
        return 0
    try:
        collected = collect_nodeids(rootdir)
        nodeids = [
            entry.nodeid for entry in entries if any(entry.matches(nodeid) for nodeid in collected)
        ]
        print(f"re-running {len(nodeids)} quarantined test(s) {arguments.runs} times", flush=True)
        tally = (
            run_reruns(
                RerunPlan(nodeids, False, arguments.runs),
                store=open_store(rootdir, create=True),
                rootdir=rootdir,
                extra_args=arguments.pytest_args,
                progress=lambda line: print(line, flush=True),
            ).counts
            if nodeids
            else {}
        )
    except RerunError as error:
        raise UsageError(str(error)) from None
    verdicts = decide(entries, tally, arguments.runs)
    for verdict in verdicts:
        print(verdict.evidence)
    fixed = [verdict.nodeid for verdict in verdicts if verdict.unquarantine]
    if fixed:
        path.write_text(remove_entries(path.read_text(encoding="utf-8"), fixed), encoding="utf-8")
    print(
        f"fix-quarantined: {len(fixed)} of {len(verdicts)} un-quarantined"
        + (f" (removed from {path.relative_to(rootdir)})" if fixed else "")
    )
    return 0


# --- registration -----------------------------------------------------------------------------
def add_command(commands: Any) -> None:
    history = commands.add_parser(
        "history",
        help="list recent test runs (or one run's results) from .testkit/history.db",
        description="Recent runs, newest first: tests, failures, seed, mode, code fingerprint.",
    )
    history.add_argument("--limit", type=positive_int, default=20, help="runs to show (default 20)")
    history.add_argument("--run", metavar="RUN_ID", help="show this run's test results instead")
    history.set_defaults(handler=run_history)

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
    durations.set_defaults(handler=run_durations)

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
    flaky.set_defaults(handler=run_flaky)

    quarantine = commands.add_parser(
        "quarantine",
        help="list tests/quarantine.toml: owner, expiry, reason",
        description="List the quarantined tests; expired entries are marked EXPIRED.",
    )
    quarantine.set_defaults(handler=run_quarantine)

    replay = commands.add_parser(
        "replay",
        help="re-run a recorded run's tests with its seed, order and mode",
        description="Re-run exactly the tests of a recorded run, in its order, seed and mode.",
    )
    replay.add_argument("run_id", metavar="RUN_ID", help="a run id from `testkit history`")
    replay.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    replay.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    replay.set_defaults(handler=run_replay)

    batch = commands.add_parser(
        "replay-batch",
        help="replay every recorded run a file lists (one run id a line); pass/fail per run",
        description="Replay each listed run (seed, order, mode) in turn; exit 1 if any failed.",
    )
    batch.add_argument("file", metavar="FILE", help="run ids, one a line (# comments allowed)")
    batch.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    batch.set_defaults(handler=run_replay_batch)

    fix = commands.add_parser(
        "fix-quarantined",
        help="re-run the quarantined tests N times; un-quarantine those that always passed",
        description="Re-run every quarantined test --runs times without retries; remove from "
        "the quarantine file the ones that passed every run (comments and others kept).",
    )
    fix.add_argument("--runs", type=positive_int, default=10, help="reruns (default 10)")
    fix.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    fix.set_defaults(handler=run_fix_quarantined)
