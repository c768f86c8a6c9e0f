"""The `testkit gates` command: read the limits and the reports, judge, write and print."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from testkit import gates, options, report_files
from testkit.analytics.quarantine import DEFAULT_PATH as DEFAULT_QUARANTINE
from testkit.gates import GATES, Inputs, evaluate, read_limits
from testkit.gates_report import render_table, write_outputs
from testkit.monitoring.gate_metrics import record_gate_metrics
from testkit.usage import UsageError


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "gates",
        help="judge the quality gates from the reports in reports/; exit 1 if any fails",
        description=gates.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="GATE",
        help=f"gates to judge, in any order: {', '.join(GATES)} (default: all)",
    )
    parser.add_argument("--root", type=Path, default=Path(), help="project root (pyproject.toml)")
    parser.add_argument(
        "--reports", type=Path, default=None, help="report directory (default: ROOT/reports)"
    )
    parser.set_defaults(handler=run_gates)


def run_gates(arguments: argparse.Namespace) -> int:
    unknown = [name for name in arguments.names if name not in GATES]
    if unknown:
        raise UsageError(f"unknown gate {unknown[0]!r}; choose from {', '.join(GATES)}")
    root: Path = arguments.root
    limits = read_limits(root / "pyproject.toml")  # a bad limit: testkit.usage, exit 2
    reports: Path = arguments.reports or root / report_files.REPORTS
    quarantine = root / (options.env_setting(options.QUARANTINE) or DEFAULT_QUARANTINE)
    inputs = Inputs(reports=reports, quarantine=quarantine, today=dt.date.today())
    results = evaluate(arguments.names, inputs, limits)
    summary = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
    write_outputs(results, reports / report_files.GATES.name, Path(summary) if summary else None)
    # The verdicts as metrics too: reports/metrics.prom, and the Pushgateway when one is set.
    pushgateway = options.env_setting(options.PUSHGATEWAY_URL)
    push_error = record_gate_metrics(results, reports, limits.coverage_threshold, pushgateway)
    if push_error is not None:
        print(push_error, file=sys.stderr)
    print(render_table(results), end="", flush=True)
    return 0 if all(r.passed for r in results) else 1
