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
from testkit.analytics.flaky import evaluate_flakiness_gate, flaky_rate, flaky_tests
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


def _flaky_list(arguments: argparse.Namespace) -> int:
    store = open_store(Path.cwd())
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
            print(
                f"  {row.verdict.upper():7} {row.nodeid}: failed {row.failures}/{row.runs} "
                f"({row.failure_rate:.0%}, 95% CI {row.ci_low:.0%}-{row.ci_high:.0%})"
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
        rate = flaky_rate(store.outcomes_by_fingerprint(last_runs=arguments.window), runs)
    else:
        print(f"no history at {history} yet (run the tests to record one)")
        rate = flaky_rate({}, 0)
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
