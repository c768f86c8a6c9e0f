"""`testkit flaky list | report | gate`: flaky tests from the history, deliberate reruns of the
suspects into reports/flakiness.{md,json}, and the flakiness gate."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from testkit import report_files
from testkit.analytics.command_support import (
    history_path,
    open_store,
    read_quarantine,
)
from testkit.analytics.flakiness_report import RerunError, collect_nodeids
from testkit.analytics.flaky import FlakyRate, evaluate_flakiness_gate
from testkit.analytics.flaky_history import HistoryVerdict, flaky_rate_of, histories, judge_all
from testkit.analytics.history import HistoryStore
from testkit.project_settings import ProjectSettingsError, read_project_settings
from testkit.usage import UsageError

GATE_REPORT = report_files.FLAKINESS_GATE


def _flaky_budget(rootdir: Path) -> float:
    try:
        settings = read_project_settings(rootdir / "pyproject.toml")
    except ProjectSettingsError as error:
        raise UsageError(str(error)) from None
    return settings.number("flaky_budget_percent")


def run_flaky(arguments: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = {
        "list": _flaky_list,
        "report": _flaky_report,
        "gate": _flaky_gate,
    }[arguments.action]
    return handler(arguments)


def _judged(store: HistoryStore, window: int) -> dict[str, HistoryVerdict]:
    """Every test's verdict from its results in the newest `window` runs (flaky_history)."""
    return judge_all(histories(store.pass_fail_sequence(last_runs=window)))


def _flaky_list(arguments: argparse.Namespace) -> int:
    store = open_store(Path.cwd())
    verdicts = _judged(store, arguments.window)
    shown = [verdict for verdict in verdicts.values() if verdict.verdict != "healthy"]
    if not any(verdict.verdict == "flaky" for verdict in shown):
        print(f"no flaky test in the last {arguments.window} runs ({len(verdicts)} tests judged)")
    else:
        print(f"from the history of the last {arguments.window} runs ({len(verdicts)} tests):")
    order = {"flaky": 0, "failing": 1, "transient": 2}
    for verdict in sorted(shown, key=lambda verdict: (order[verdict.verdict], verdict.nodeid)):
        print(f"  {verdict.verdict.upper():9} {verdict.nodeid}: {verdict.reason}")
    return 0


def _flaky_report(arguments: argparse.Namespace) -> int:
    from testkit.analytics.flakiness_report import flakiness_report

    rootdir = Path.cwd()
    store = open_store(rootdir) if not arguments.all else open_store(rootdir, create=True)
    entries = read_quarantine(rootdir)
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
        raise UsageError(str(error)) from None
    for row in rows:
        if row.verdict != "healthy":
            cause = f"; {row.cause}: {row.reproduce}" if row.cause else ""
            print(
                f"  {row.verdict.upper():7} {row.nodeid}: failed {row.failures}/{row.runs} "
                f"({row.failure_rate:.0%}, 95% CI {row.ci_low:.0%}-{row.ci_high:.0%}){cause}"
            )
    return 0


def _flaky_gate(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    entries = read_quarantine(rootdir)
    budget = _flaky_budget(rootdir)
    history = history_path(rootdir)
    if history.exists():
        store = open_store(rootdir)
        runs = len(store.recent_runs(arguments.window))
        rate = flaky_rate_of(_judged(store, arguments.window), runs)
    else:
        print(f"no history at {history} yet (run the tests to record one)")
        rate = FlakyRate(0, 0, 0)
    try:
        collected = collect_nodeids(rootdir) if entries else []
    except RerunError as error:
        raise UsageError(str(error)) from None
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
