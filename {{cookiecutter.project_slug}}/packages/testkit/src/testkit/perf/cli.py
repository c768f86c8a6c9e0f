"""`testkit perf run|baseline|gate|ab|trends|instructions|instructions-baseline`: the perf
tier's commands (make perf, perf-baseline, performance-gate, perf-ab, perf-trends,
perf-instructions, perf-instructions-baseline drive them).

This module only reads the command line: it builds one PerfRequest (request.py) and hands it to
commands.py. Exit status: 0 pass (and INCONCLUSIVE, unless --strict), 1 a regression (or
INCONCLUSIVE with --strict), 2 bad input (one line naming it), 3 the service or the load could
not run.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from testkit import report_files
from testkit.perf import commands as perf_commands
from testkit.perf import gate, instructions, trends
from testkit.perf.request import PerfRequest, request_from
from testkit.perf.runner import LoadError
from testkit.perf.stats import StatsUnavailable
from testkit.perf.target import TargetError
from testkit.server import ServerStartError


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    perf = commands.add_parser(
        "perf",
        help="load profiles, baselines, the performance gate and A/B runs (locust)",
        description=__doc__,
    )
    sub = perf.add_subparsers(dest="perf_command", required=True, metavar="PERF_COMMAND")
    run = sub.add_parser("run", help="one headless locust run: CSV, HTML and summary.json")
    baseline = sub.add_parser("baseline", help="repeated rounds written as the profile's baseline")
    check = sub.add_parser("gate", help="rounds now vs the baseline: exit 1 on a regression")
    ab = sub.add_parser("ab", help="base revision vs working tree, both loaded at once, paired")
    for parser in (run, baseline, check, ab):
        _common_arguments(parser)
    for parser in (baseline, check):
        parser.add_argument(
            "--rounds",
            type=int,
            default=None,
            help="rounds to run (default: 5, or the baseline's for the gate)",
        )
    for parser in (baseline, check, ab):
        parser.add_argument(
            "--round-seconds",
            type=float,
            default=None,
            help="length of one round (default: the baseline's, else the profile's round_s)",
        )
    check.add_argument(
        "--max-rounds",
        type=int,
        default=9,
        help="while a metric is inconclusive, add rounds up to this many",
    )
    check.add_argument(
        "--base",
        default=None,
        help="BASE: judge against this git ref loaded beside the working tree (perf-ab) "
        "instead of the recorded baseline",
    )
    ab.add_argument("--base", required=True, help="git ref of the base revision (e.g. main, HEAD)")
    for parser in (check, ab):
        parser.add_argument("--pairs", type=int, default=6, help="base/candidate pairs to run")
        parser.add_argument(
            "--max-pairs",
            type=int,
            # Only an undecided run uses these; a decided one stops after --pairs. Both sides
            # of a pair run at once, so 30 pairs take about the time 15 took in turn.
            default=30,
            help="while a metric is inconclusive or not yet shown within its limit, add pairs "
            "up to this many (default 30)",
        )
        parser.add_argument(
            "--alpha",
            type=float,
            default=gate.DEFAULT_ALPHA,
            help="significance level of the one-sided tests (default 0.05)",
        )
        parser.add_argument(
            "--strict", action="store_true", help="also exit 1 when the verdict is INCONCLUSIVE"
        )
    run.set_defaults(handler=_guarded(perf_commands.run))
    baseline.set_defaults(handler=_guarded(perf_commands.baseline))
    check.set_defaults(handler=_guarded(perf_commands.gate_check))
    ab.set_defaults(handler=_guarded(perf_commands.ab))
    trends.add_parser(sub)  # reads the history, not a load: its own request and errors
    instructions.add_parser(sub)  # callgrind, not a load: its own request and errors


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        default=os.environ.get("PROFILE") or "smoke",
        help="smoke, baseline, stress or spike (default smoke)",
    )
    parser.add_argument(
        "--scale",
        default=os.environ.get("PERF_SCALE"),
        help="PERF_SCALE: users and spawn rate times this, in (0, 1]",
    )
    parser.add_argument("--locustfile", type=Path, default=Path("tests/perf/locustfile.py"))
    parser.add_argument(
        "--workers",
        type=int,
        default=os.environ.get("PERF_WORKERS") or "0",  # argparse applies type=int to it
        help="PERF_WORKERS: locust --master with this many --worker processes",
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("TEST_BASE_URL") or None,
        help="TEST_BASE_URL: load an already running deployment instead",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("TEST_ADMIN_TOKEN") or None,
        help="TEST_ADMIN_TOKEN: the deployment's admin token (with --base-url)",
    )
    parser.add_argument("--app", default=None, help="app factory for uvicorn --factory")
    parser.add_argument("--service-dir", type=Path, default=Path("services/api"))
    parser.add_argument("--migrate", default="", help="migration command run in --service-dir")
    parser.add_argument(
        "--server-env",
        default="",
        help="NAME=VALUE words for the server; {postgres} {redis} {nats} "
        "{prefix} {secret} are filled in",
    )
    parser.add_argument(
        "--admin-token-env",
        default="",
        help="the server variable holding the admin token (its value is used)",
    )
    parser.add_argument(
        "--drop-env-prefix",
        default="",
        help="variables with this prefix are not inherited by the server",
    )
    parser.add_argument("--health-path", default="/healthz")
    parser.add_argument("--reports-dir", type=Path, default=report_files.LOCUST_REPORTS)
    parser.add_argument("--baselines-dir", type=Path, default=report_files.PERF_BASELINES)
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument(
        "--cost-ceiling",
        type=float,
        default=os.environ.get("PERF_COST_CEILING") or None,
        help="PERF_COST_CEILING: fail when the answer provider's cost per answer (USD) is "
        "above it (default: [tool.testkit] perf_cost_ceiling)",
    )


def _guarded(handler: Callable[[PerfRequest], int]) -> Callable[[argparse.Namespace], int]:
    def run(arguments: argparse.Namespace) -> int:
        try:
            return handler(request_from(arguments))
        except (TargetError, ServerStartError, LoadError, StatsUnavailable) as error:
            print(f"testkit perf: {error}", flush=True)
            return 3

    return run
