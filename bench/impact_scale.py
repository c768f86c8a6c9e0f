"""Impact selection at scale: 305 generated faults (bench/fault_generator.py: cosmic-ray mutants
of the service, testkit, the tests' helpers and conftest files, plus edits of the data files the
tests read and of the configuration) against the suite, side by side with pytest-testmon.

For each fault, in one installed bake, with the fault applied:

1. the suite runs in full (-n 2) to learn which tests the fault makes fail (tests failing
   without it do not count);
2. testkit's selection (`--testkit-impact-changed=<file>`, map recorded once on the clean tree)
   and pytest-testmon's (`--testmon`, database recorded once and restored after every fault) are
   collected (`--collect-only`: what each would run);
3. a miss is a failing test a tool would not run; a missed test is run again under the fault,
   and a test that then passes (flaky) is reported apart, not as a miss.

Each fault's outcome is appended to CHECKPOINT (bench/checkpoints/impact_scale.jsonl, in git)
as it finishes: the whole list takes hours on 2 cores, so a run can stop and
`python bench/impact_scale.py` (or BENCH_RESUME=1 with run.py) continues with the faults it
lacks. An outcome counts only while its fault's spec is still what the generator makes.

    python bench/impact_scale.py [--project DIR] [--limit N] [--services url|local]

`make bench QUICK=1` generates the faults on the benchmark bake and applies and restores each
(no test run) and reports the checkpoint's figures; BENCH_FAULT_LIMIT=N bounds how many more
faults `make bench` measures (0: none, the checkpoint's figures only).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fault_generator import Fault, FaultNotApplicable, apply, generate
from impact_faults import (
    LOCAL_SERVICES,
    OUTCOMES_PLUGIN,
    Project,
    Run,
    copy_database,
    restore_testmon,
)
from project import (
    REAL_SERVICES,
    TEMPLATE_ROOT,
    Figure,
    Measurement,
    install_testmon,
    installed_default_project,
    progress,
)

CHECKPOINT = TEMPLATE_ROOT / "bench" / "checkpoints" / "impact_scale.jsonl"
ORDER_SEED = 7
RUN_ERROR = "<the run itself: it breaks before it reports>"
# The suite the faults are judged against: every tier but chaos and perf (each starts servers
# and proxies of its own: minutes a run), and testkit's unit tests (its pytester acceptance
# tests take minutes a run too). A fault only those would catch counts as not caught.
SUITE = (
    "tests/unit",
    "tests/property",
    "tests/integration",
    "tests/e2e",
    "tests/contract",
    "tests/security",
    "tests/rag",
    "tests/adversarial",
    "tests/realtime",
    "tests/infrastructure",
    "tests/observability",
    "packages/testkit/tests/unit",
)


@dataclass
class FaultOutcome:
    fault: dict[str, Any]
    applied: bool = True
    failing: list[str] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)
    # failed in the full run, missed by a tool, then passed when run again under the fault:
    # not counted as failing (adversarial cases under budget, timing under load)
    flaky: list[str] = field(default_factory=list)
    full_s: float = 0.0
    suite_size: int = 0
    testkit_selected: int = 0
    testkit_misses: list[str] = field(default_factory=list)
    testmon_selected: int = 0
    testmon_misses: list[str] = field(default_factory=list)
    run_error: str = ""  # the full run ended without outcomes (did not start, or crashed)
    note: str = ""

    @property
    def caught(self) -> bool:
        return bool(self.failing or self.torn)


def load_checkpoint(path: Path = CHECKPOINT) -> dict[str, FaultOutcome]:
    """Outcomes by fault id; a line that does not parse is named and skipped, never lost."""
    outcomes: dict[str, FaultOutcome] = {}
    if not path.is_file():
        return outcomes
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            outcome = FaultOutcome(**json.loads(line))
        except (ValueError, TypeError) as error:
            progress(f"{path}:{number}: not an outcome ({error}); skipped")
            continue
        outcomes[outcome.fault["fault_id"]] = outcome
    return outcomes


def current_outcomes(faults: Sequence[Fault], path: Path = CHECKPOINT) -> list[FaultOutcome]:
    """The checkpoint's outcomes of these very faults (same spec), in the faults' order."""
    recorded = load_checkpoint(path)
    return [
        recorded[f.fault_id]
        for f in faults
        if f.fault_id in recorded and recorded[f.fault_id].fault == f.as_dict()
    ]


def _confirmed(project: Project, missed: list[str]) -> tuple[list[str], list[str]]:
    """(still failing, passed when run again) among the missed tests."""
    nodeids = [m for m in missed if "::" in m]
    if not nodeids:
        return missed, []
    again = project.pytest(*nodeids)
    flaky = [m for m in nodeids if m not in again.failed]
    return [m for m in missed if m not in flaky], flaky


def _collected(project: Project, *arguments: str) -> Run | None:
    """What a tool would run (`--collect-only`); None when its run does not even start."""
    try:
        return project.pytest("--collect-only", *arguments)
    except RuntimeError:
        return None


def _fails(project: Project, *arguments: str) -> bool:
    """Whether the tool's selection, run, fails (a test fails, or the run itself breaks);
    exit 5 (nothing selected) is a pass that let the fault through."""
    try:
        run = project.pytest(*arguments, parallel=True)
    except RuntimeError:
        return True
    return run.exit_code not in (0, 5)


def judge(
    project: Project,
    fault: Fault,
    outcome: FaultOutcome,
    already_failing: set[str],
    already_torn: set[str],
) -> None:
    """Fill ``outcome`` for the applied fault: the full run's failures, each tool's selection
    and misses, the flaky failures set apart."""
    tools = {
        "testkit": (f"--testkit-impact-changed={fault.path}",),
        "testmon": ("--testmon",),
    }
    try:
        full = project.pytest(parallel=True)
    except RuntimeError as error:
        # The full run ended without outcomes: it did not start (testkit's plugin, a conftest,
        # a setting broken) or crashed at the end. A tool misses that only if its own run,
        # run for real, passes.
        outcome.run_error = str(error).splitlines()[0][:300]
        outcome.failing = [RUN_ERROR]
        for tool, arguments in tools.items():
            run = _collected(project, *arguments)
            setattr(outcome, f"{tool}_selected", len(run.ran) if run else 0)
            setattr(outcome, f"{tool}_misses", [] if _fails(project, *arguments) else [RUN_ERROR])
        return
    outcome.failing = sorted(full.failed - already_failing)
    outcome.torn = sorted(full.torn - already_torn)
    outcome.full_s, outcome.suite_size = round(full.seconds, 1), len(full.ran)
    missed: dict[str, list[str]] = {}
    for tool, arguments in tools.items():
        run = _collected(project, *arguments)
        if run is None:
            raise RuntimeError(f"{tool}'s selection did not start though the suite did")
        setattr(outcome, f"{tool}_selected", len(run.ran))
        missed[tool] = run.misses(outcome.failing, outcome.torn)
    either = sorted(set(missed["testkit"]) | set(missed["testmon"]))
    _, flaky = _confirmed(project, either) if either else ([], [])
    outcome.flaky = flaky
    outcome.failing = [t for t in outcome.failing if t not in flaky]
    outcome.testkit_misses = [m for m in missed["testkit"] if m not in flaky]
    outcome.testmon_misses = [m for m in missed["testmon"] if m not in flaky]


def run_scale(
    project_root: Path,
    faults: Sequence[Fault],
    services: dict[str, str],
    *,
    limit: int | None = None,
    checkpoint: Path = CHECKPOINT,
) -> list[FaultOutcome]:
    done = {o.fault["fault_id"] for o in current_outcomes(faults, checkpoint)}
    # In a seeded shuffle, so a run stopped early has measured every kind of fault alike.
    pending = [f for f in faults if f.fault_id not in done]
    random.Random(ORDER_SEED).shuffle(pending)
    pending = pending[:limit]
    progress(f"{len(done)} of {len(faults)} faults already measured; {len(pending)} to run now")
    if not pending:
        return current_outcomes(faults, checkpoint)
    workdir = Path(tempfile.mkdtemp(prefix="impact-scale-"))
    (workdir / "bench_outcomes.py").write_text(OUTCOMES_PLUGIN)
    install_testmon(project_root)
    project = Project(project_root, list(SUITE), 2, workdir, services)
    progress("recording the testkit impact map (clean tree)")
    map_run = project.pytest("--testkit-impact-record=1", parallel=True)
    progress(f"  {len(map_run.ran)} tests, {len(map_run.failed)} failing, {map_run.seconds:.0f} s")
    for stale in project_root.glob(".testmondata*"):
        stale.unlink()
    progress("recording the testmon database (clean tree, serial)")
    testmon_build = project.pytest("--testmon")
    progress(f"  {len(testmon_build.ran)} tests, {testmon_build.seconds:.0f} s")
    backup = workdir / "testmondata.clean"
    copy_database(project_root / ".testmondata", backup)
    already_failing = map_run.failed | testmon_build.failed
    already_torn = map_run.torn | testmon_build.torn
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    for number, fault in enumerate(pending, start=1):
        outcome = FaultOutcome(fault.as_dict())
        try:
            original = apply(fault, project_root)
        except FaultNotApplicable as error:
            outcome.applied, outcome.note = False, str(error)
        else:
            try:
                judge(project, fault, outcome, already_failing, already_torn)
            except RuntimeError as error:  # the clean tree's runs broke: say so, go on
                outcome.applied, outcome.note = False, f"run failed: {error}"[:2000]
            finally:
                (project_root / fault.path).write_text(original)
                restore_testmon(project_root, backup)
        with checkpoint.open("a") as lines:
            lines.write(json.dumps(asdict(outcome)) + "\n")
        progress(
            f"{number}/{len(pending)} {fault.fault_id} {fault.describe()}: "
            f"{len(outcome.failing)} failing; testkit {outcome.testkit_selected} "
            f"({len(outcome.testkit_misses)} missed), testmon {outcome.testmon_selected} "
            f"({len(outcome.testmon_misses)} missed); full {outcome.full_s:.0f} s"
        )
    return current_outcomes(faults, checkpoint)


def summarise(outcomes: Sequence[FaultOutcome], kind: str | None = None) -> dict[str, Any]:
    chosen = [o for o in outcomes if o.applied and (kind is None or o.fault["kind"] == kind)]
    caught = [o for o in chosen if o.caught]
    suite = max((o.suite_size for o in chosen), default=0)

    def median(values: list[int]) -> float:
        return float(statistics.median(values)) if values else 0.0

    return {
        "faults": len(chosen),
        "caught_by_suite": len(caught),
        "testkit_faults_missed": sum(bool(o.testkit_misses) for o in caught),
        "testmon_faults_missed": sum(bool(o.testmon_misses) for o in caught),
        "testkit_tests_missed": sum(len(o.testkit_misses) for o in caught),
        "testmon_tests_missed": sum(len(o.testmon_misses) for o in caught),
        "flaky_set_apart": sum(len(o.flaky) for o in chosen),
        "full_run_broke": sum(bool(o.run_error) for o in chosen),
        "testkit_selected_median": median([o.testkit_selected for o in chosen]),
        "testmon_selected_median": median([o.testmon_selected for o in chosen]),
        "testkit_full_runs": sum(o.testkit_selected >= suite for o in chosen) if suite else 0,
        "suite_size": suite,
        "full_run_s_median": median([round(o.full_s) for o in chosen]),
    }


def figures(outcomes: Sequence[FaultOutcome]) -> list[Figure]:
    rows = [("all faults", None), ("python", "python"), ("data files", "data")]
    rows.append(("configuration", "config"))
    command = "python bench/impact_scale.py"
    return [Figure(label, summarise(outcomes, kind), command) for label, kind in rows]


def headline(outcomes: Sequence[FaultOutcome], total: int) -> str:
    s = summarise(outcomes)
    non_python = sum(o.fault["kind"] != "python" for o in outcomes if o.applied)
    return (
        f"Impact selection at scale: {s['faults']} of {total} generated faults measured "
        f"({non_python} in files that are not Python), {s['caught_by_suite']} caught by the "
        f"suite; faults missed by testkit {s['testkit_faults_missed']}, by pytest-testmon "
        f"{s['testmon_faults_missed']}; median selection {s['testkit_selected_median']:.0f} vs "
        f"{s['testmon_selected_median']:.0f} of {s['suite_size']} tests."
    )


def measure(quick: bool) -> Measurement:
    """For `make bench`: QUICK checks the generator on the benchmark bake (each fault applied
    and restored) and reports the checkpoint; the full run measures the faults it lacks."""
    project_root = installed_default_project()
    faults = generate(project_root)
    if quick:
        for fault in faults:
            original = apply(fault, project_root)
            (project_root / fault.path).write_text(original)
        outcomes = current_outcomes(faults)
    else:
        services = LOCAL_SERVICES if os.environ.get("BENCH_SERVICES") == "local" else REAL_SERVICES
        # BENCH_FAULT_LIMIT: measure at most N more faults (0: report the checkpoint as it is).
        limit = os.environ.get("BENCH_FAULT_LIMIT")
        outcomes = run_scale(project_root, faults, services, limit=int(limit) if limit else None)
    return Measurement(
        "impact_scale",
        f"Impact selection at scale: {len(faults)} generated faults vs pytest-testmon",
        figures(outcomes),
        notes=(
            f"Faults from bench/fault_generator.py on the default bake (seed 2026): "
            f"{sum(f.kind == 'python' for f in faults)} cosmic-ray mutants (service, testkit, "
            "test helpers and factories, conftest files), "
            f"{sum(f.kind == 'data' for f in faults)} edits of data files the tests read "
            f"(tests/**/*.json, *.toml), {sum(f.kind == 'config' for f in faults)} edits of "
            "configuration (Makefile, make/*.mk, pyproject.toml, uv.lock, CI workflows, "
            "alembic.ini, compose, monitoring). Suite: " + " ".join(SUITE) + ". "
            "`caught_by_suite`: faults that made a test fail; a miss is such a failing test "
            "outside a tool's selection (`--collect-only`), confirmed by running it again "
            "under the fault (`flaky_set_apart`: it passed then). `testkit_full_runs`: faults "
            "for which testkit ran everything (impact_always_run, or a file the map does not "
            "know). The rows cover the faults measured so far (CHECKPOINT, in git); "
            "`python bench/impact_scale.py` continues with the rest."
        ),
        headline=headline(outcomes, len(faults)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an installed bake (default: the bench's)")
    parser.add_argument("--limit", type=int, help="measure at most N more faults")
    parser.add_argument(
        "--services",
        choices=("url", "local"),
        default="url",
        help="url: the machine's postgres/redis/nats (TEST_*_URL); local: ephemeral servers",
    )
    arguments = parser.parse_args(argv)
    # Stopped with SIGTERM: unwind, so the `finally` puts the faulted file back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    project_root = arguments.project or installed_default_project()
    faults = generate(project_root)
    services = REAL_SERVICES if arguments.services == "url" else LOCAL_SERVICES
    started = time.monotonic()
    outcomes = run_scale(project_root, faults, services, limit=arguments.limit)
    print(json.dumps(summarise(outcomes), indent=2))
    print(headline(outcomes, len(faults)))
    progress(f"{time.monotonic() - started:.0f} s")
    return 1 if any(o.testkit_misses for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
