"""`make replay RUN=<id>`: run a recorded run's tests again, with its seed, order and mode.

The tests are passed as node ids, in the order the run recorded them, through an @file (so a
long run fits on no command line). pytest-randomly stays on, with the run's seed, so `random`,
faker and factory-boy are reseeded for each test exactly as before, but with
--randomly-dont-reorganize so the recorded order is kept. A run spread over xdist workers is
replayed in one process, in the order its results reached the controller.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testkit.analytics.history import Result, Run

REPLAY_DIR = Path(".testkit") / "replay"


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    run_id: str
    nodeids: list[str]
    arguments: list[str]  # pytest arguments, the @file last
    environment: dict[str, str]
    args_file: Path
    notes: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "pytest", *self.arguments]

    def describe(self) -> str:
        settings = " ".join(f"{name}={value}" for name, value in sorted(self.environment.items()))
        return f"replaying run {self.run_id}: {len(self.nodeids)} tests, {settings}".rstrip()


def plan_replay(
    run: Run, results: Sequence[Result], *, rootdir: Path, extra_args: Sequence[str] = ()
) -> ReplayPlan:
    """Arguments and environment that reproduce `run` (pure: writes nothing)."""
    nodeids = [result.nodeid for result in sorted(results, key=lambda result: result.position)]
    environment = {"TEST_MODE": run.mode}
    notes: list[str] = []
    arguments = ["--randomly-dont-reorganize", *extra_args]
    if run.seed is not None:
        environment["TEST_SEED"] = str(run.seed)
    else:
        notes.append("the run recorded no seed: random data will differ")
    if run.workers:
        notes.append(f"the run used {run.workers} xdist workers; the replay runs them serially")
    if run.exit_status is None:
        notes.append("the run did not finish (killed or still running): replaying what it recorded")
    args_file = rootdir / REPLAY_DIR / f"{run.run_id}.txt"
    arguments.append(f"@{args_file}")
    return ReplayPlan(run.run_id, nodeids, arguments, environment, args_file, notes)


def execute(
    plan: ReplayPlan, *, rootdir: Path, base_environment: dict[str, str], log: Path | None = None
) -> int:
    """Write the @file and run pytest (its output to ``log`` when given); pytest's exit code."""
    plan.args_file.parent.mkdir(parents=True, exist_ok=True)
    plan.args_file.write_text("".join(f"{nodeid}\n" for nodeid in plan.nodeids))
    environment = {**base_environment, **plan.environment}
    if log is None:
        return subprocess.run(plan.command(), cwd=rootdir, env=environment, check=False).returncode
    with log.open("w", encoding="utf-8") as output:
        return subprocess.run(
            plan.command(), cwd=rootdir, env=environment, stdout=output, stderr=output, check=False
        ).returncode


# --- make replay-batch: many recorded runs, one line of verdict each ---------------------------
class BatchFileError(ValueError):
    """The batch file is unusable (one line naming the file and line)."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    run_id: str
    tests: int
    exit_code: int
    log: Path

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def line(self) -> str:
        verdict = "PASS" if self.passed else f"FAIL (pytest exit {self.exit_code})"
        return f"{verdict:<24} run {self.run_id}: {self.tests} tests, log {self.log}"


def parse_batch(text: str, *, source: str) -> tuple[str, ...]:
    """Run ids, one a line; blank lines and `#` comments skipped; a repeated id is an error."""
    run_ids: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if len(line.split()) != 1:
            raise BatchFileError(f"{source}:{number}: one run id a line, got {line!r}")
        if line in run_ids:
            raise BatchFileError(f"{source}:{number}: run {line} is listed twice")
        run_ids.append(line)
    if not run_ids:
        raise BatchFileError(f"{source}: lists no run ids (one a line, from `testkit history`)")
    return tuple(run_ids)


def batch_summary(results: Sequence[BatchResult]) -> str:
    failed = [result.run_id for result in results if not result.passed]
    head = f"replay-batch: {len(results) - len(failed)} of {len(results)} runs passed"
    return head + (f"; failed: {', '.join(failed)}" if failed else "")
