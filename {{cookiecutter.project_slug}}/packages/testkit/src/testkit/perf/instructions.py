"""`testkit perf instructions` and `testkit perf instructions-baseline`: the instruction-count
gate over the hot paths' benchmarks (make perf-instructions, perf-instructions-baseline).

The benchmarks are the ``bench_<name>()`` functions of tests/perf/instruction_benchmarks.py,
counted by callgrind (callgrind.py) and judged by instruction_gate.py. The gate compares with
BASE (``--base REF``: that revision checked out beside the working tree and counted now, on this
machine) or else with the recorded baseline, perf/baselines/instructions.json. Exit status: 0
pass (and INCONCLUSIVE, unless --strict), 1 a regression (or INCONCLUSIVE with --strict), 2 bad
input (one line naming it), 3 valgrind missing.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit import report_files
from testkit.git import head_state
from testkit.perf import callgrind, instruction_gate
from testkit.perf.benchmark_module import BenchmarkError, discover, source_roots
from testkit.perf.calibration import usable_cpus
from testkit.perf.callgrind import Counted, Plan, ValgrindMissing
from testkit.perf.instruction_baseline import Recorded, read_baseline, write_baseline
from testkit.perf.instruction_gate import (
    InstructionGateResult,
    InstructionVerdict,
)
from testkit.perf.worktree import base_worktree
from testkit.usage import UsageError

BENCHMARKS = Path("tests/perf/instruction_benchmarks.py")
BASELINE = report_files.INSTRUCTIONS_BASELINE
REPORT = report_files.PERF_INSTRUCTIONS
DEFAULT_ITERATIONS = 100
DEFAULT_REPEATS = 3


@dataclass(frozen=True, slots=True)
class InstructionRequest:
    """What an instructions command was asked to do, checked once at the edge."""

    benchmarks: Path
    benchmarks_given: bool  # named on the command line: a missing file is then an error
    baseline: Path
    report: Path
    pyproject: Path
    base: str | None
    strict: bool
    iterations: int | None  # None: the baseline's (gate), else DEFAULT_ITERATIONS
    repeats: int
    jobs: int


def add_parser(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``instructions`` and ``instructions-baseline`` to ``testkit perf``'s subcommands."""
    check = subcommands.add_parser(
        "instructions",
        help="instruction counts of tests/perf/instruction_benchmarks.py vs BASE or the "
        "baseline: exit 1 beyond perf_instructions_pct",
        description=__doc__,
    )
    record = subcommands.add_parser(
        "instructions-baseline",
        help="count the instruction benchmarks and record perf/baselines/instructions.json",
        description=__doc__,
    )
    for parser in (check, record):
        parser.add_argument(
            "--benchmarks",
            type=Path,
            default=None,
            help=f"the benchmark module (default {BENCHMARKS})",
        )
        parser.add_argument(
            "--baseline-file",
            type=Path,
            default=BASELINE,
            help=f"the recorded baseline (default {BASELINE})",
        )
        parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
        parser.add_argument(
            "--iterations",
            type=int,
            default=None,
            help=f"calls per counted segment (default {DEFAULT_ITERATIONS}, or the baseline's)",
        )
        parser.add_argument(
            "--repeats",
            type=int,
            default=DEFAULT_REPEATS,
            help=f"counted segments per benchmark; the median is used (default {DEFAULT_REPEATS})",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=usable_cpus(),
            help="benchmarks counted at once (default: the usable cores)",
        )
    check.add_argument(
        "--base",
        default=None,
        help="BASE: count this git ref's benchmarks now, beside the working tree, instead of "
        "reading the baseline",
    )
    check.add_argument("--report", type=Path, default=REPORT)
    check.add_argument(
        "--strict", action="store_true", help="also exit 1 when the verdict is INCONCLUSIVE"
    )
    check.set_defaults(handler=_guarded(gate))
    record.set_defaults(handler=_guarded(record_baseline))


def request_from(arguments: argparse.Namespace) -> InstructionRequest:
    for flag, value, least in (
        ("--iterations", arguments.iterations, 1),
        ("--repeats", arguments.repeats, 1),
        ("--jobs", arguments.jobs, 1),
    ):
        if value is not None and value < least:
            raise UsageError(f"{flag} must be at least {least}, got {value}")
    base = getattr(arguments, "base", None)
    if base is not None and not base.strip():
        base = None
    return InstructionRequest(
        benchmarks=arguments.benchmarks or BENCHMARKS,
        benchmarks_given=arguments.benchmarks is not None,
        baseline=arguments.baseline_file,
        report=getattr(arguments, "report", REPORT),
        pyproject=arguments.pyproject,
        base=base,
        strict=getattr(arguments, "strict", False),
        iterations=arguments.iterations,
        repeats=arguments.repeats,
        jobs=arguments.jobs,
    )


def _guarded(
    handler: Callable[[InstructionRequest], int],
) -> Callable[[argparse.Namespace], int]:
    def run(arguments: argparse.Namespace) -> int:
        try:
            return handler(request_from(arguments))
        except BenchmarkError as error:
            print(f"testkit perf: {error}", flush=True)
            return 2
        except ValgrindMissing as error:
            print(f"testkit perf: {error}", flush=True)
            return 3

    return run


def _benchmark_names(request: InstructionRequest, module: Path) -> tuple[str, ...] | None:
    """The module's benchmarks; None (after saying so) when there is nothing to measure."""
    if not module.is_file():
        if request.benchmarks_given:
            raise UsageError(f"--benchmarks {module}: no such file")
        print(
            f"perf instructions: no {module} (bench_<name>() functions of the hot paths): "
            "nothing to measure",
            flush=True,
        )
        return None
    names = discover(module)
    if not names:
        print(f"perf instructions: {module} defines no bench_<name>(): nothing to measure")
        return None
    return names


def _plan(root: Path, module: Path, iterations: int, repeats: int) -> Plan:
    return Plan(
        module=module.resolve(),
        root=root,
        python_path=source_roots(root),
        iterations=iterations,
        repeats=repeats,
        warmup=max(10, iterations // 10),
    )


def _per_call(counted: Mapping[str, Counted]) -> dict[str, float]:
    return {name: round(c.per_call, 1) for name, c in counted.items()}


def _counts_line(label: str, counted: Mapping[str, Counted]) -> str:
    if not counted:
        return f"perf instructions: {label}: no benchmarks"
    spread = max(c.spread_pct for c in counted.values())
    return (
        f"perf instructions: {label}: {len(counted)} benchmark(s), largest spread between "
        f"repeats {spread:.4f}%"
    )


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _detail(counted: Mapping[str, Counted]) -> dict[str, Any]:
    return {name: c.as_dict() for name, c in counted.items()}


def record_baseline(request: InstructionRequest) -> int:
    instruction_gate.load_limit(request.pyproject)  # a bad limit is refused before the work
    names = _benchmark_names(request, request.benchmarks)
    if names is None:
        return 0
    callgrind.require_valgrind()
    iterations = request.iterations or DEFAULT_ITERATIONS
    started = time.monotonic()
    root = Path.cwd()
    counting = callgrind.count_all(
        {"baseline": _plan(root, request.benchmarks, iterations, request.repeats)},
        {"baseline": names},
        jobs=request.jobs,
    )
    counted = counting.counts["baseline"]
    print(_counts_line("baseline", counted), flush=True)
    commit, dirty = head_state(root)
    write_baseline(
        request.baseline,
        counted,
        environment=callgrind.current_environment(counting.instrumentation),
        iterations=iterations,
        repeats=request.repeats,
        commit=commit,
        dirty=dirty,
    )
    for name, count in _per_call(counted).items():
        print(f"  {name}: {count:,.1f} instructions per call", flush=True)
    print(
        f"perf instructions: wrote {request.baseline} ({len(counted)} benchmarks, "
        f"{iterations} calls x {request.repeats}, commit {commit}, "
        f"{time.monotonic() - started:.0f} s)",
        flush=True,
    )
    return 0


def gate(request: InstructionRequest) -> int:
    # Bad input first (exit 2), then the tool (exit 3), then the work.
    limit = instruction_gate.load_limit(request.pyproject)
    names = _benchmark_names(request, request.benchmarks)
    if names is None:
        return 0
    started = time.monotonic()
    if request.base is None:
        recorded = read_baseline(request.baseline)
        callgrind.require_valgrind()
        result, base_label, about = _against_baseline(request, recorded, names, limit)
    else:
        callgrind.require_valgrind()
        result, base_label, about = _against_revision(request, request.base, names, limit)
    print(instruction_gate.format_table(result, base_label=base_label), flush=True)
    _write_json(request.report, {**result.as_dict(), **about})
    print(
        f"perf instructions: wrote {request.report} ({time.monotonic() - started:.0f} s)",
        flush=True,
    )
    if result.verdict is InstructionVerdict.REGRESSION:
        return 1
    if result.verdict is InstructionVerdict.INCONCLUSIVE:
        print(
            f"perf instructions: inconclusive: recorded with {', '.join(result.differences)}; "
            "re-record (make perf-instructions-baseline) or use BASE=<ref>",
            flush=True,
        )
        return 1 if request.strict else 0
    return 0


def _against_baseline(
    request: InstructionRequest, recorded: Recorded, names: tuple[str, ...], limit: float
) -> tuple[InstructionGateResult, str, dict[str, Any]]:
    iterations = request.iterations or recorded.iterations
    print(
        f"perf instructions: {len(names)} benchmark(s) vs {request.baseline} "
        f"(commit {recorded.commit}), {iterations} calls x {request.repeats}",
        flush=True,
    )
    counting = callgrind.count_all(
        {"current": _plan(Path.cwd(), request.benchmarks, iterations, request.repeats)},
        {"current": names},
        jobs=request.jobs,
    )
    counted = counting.counts["current"]
    here = callgrind.current_environment(counting.instrumentation)
    print(_counts_line("current", counted), flush=True)
    result = instruction_gate.compare_counts(
        recorded.per_call,
        _per_call(counted),
        limit_pct=limit,
        differences=instruction_gate.environment_differences(recorded.environment, here),
    )
    about = {
        "base": {"baseline": str(request.baseline), "commit": recorded.commit},
        "environment": here.as_dict(),
        "iterations": iterations,
        "current": _detail(counted),
    }
    return result, "baseline", about


def _against_revision(
    request: InstructionRequest, base: str, names: tuple[str, ...], limit: float
) -> tuple[InstructionGateResult, str, dict[str, Any]]:
    iterations = request.iterations or DEFAULT_ITERATIONS
    here = Path.cwd().resolve()
    module = (here / request.benchmarks).resolve()
    if not module.is_relative_to(here):
        raise UsageError(
            f"--benchmarks {request.benchmarks} is outside the project: with BASE the base "
            "revision's copy of it is measured, so it must be in the repository"
        )
    with base_worktree(base, here) as checkout:
        base_module = checkout.root / module.relative_to(here)
        base_names = discover(base_module) if base_module.is_file() else ()
        print(
            f"perf instructions: BASE={base} ({checkout.commit[:12]}) in "
            f"{checkout.root}: {len(base_names)} benchmark(s); working tree: {len(names)}; "
            f"{iterations} calls x {request.repeats}",
            flush=True,
        )
        counting = callgrind.count_all(
            {
                "base": _plan(checkout.root, base_module, iterations, request.repeats),
                "current": _plan(here, module, iterations, request.repeats),
            },
            {"base": base_names, "current": names},
            jobs=request.jobs,
        )
    counted = counting.counts
    for label in ("base", "current"):
        print(_counts_line(label, counted[label]), flush=True)
    result = instruction_gate.compare_counts(
        _per_call(counted["base"]), _per_call(counted["current"]), limit_pct=limit
    )
    about = {
        "base": {"ref": base, "commit": checkout.commit, "detail": _detail(counted["base"])},
        "environment": callgrind.current_environment(counting.instrumentation).as_dict(),
        "iterations": iterations,
        "current": _detail(counted["current"]),
    }
    return result, "base", about
