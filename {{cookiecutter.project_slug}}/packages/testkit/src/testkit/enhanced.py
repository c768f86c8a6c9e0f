"""test-all-enhanced's summary table.

Make runs the steps and appends one line per step to reports/test-all-enhanced.tsv (step, make
target, PASS/FAIL, wall seconds). The tiers that need nothing but their tests share one pytest
run (`make test-tiers`: one start-up, one xdist pool, one coverage session); their rows come
from that run's JUnit XML, grouped by the tier folder of each test. `testkit enhanced-summary`
prints the table and exits 1 when any step failed.
"""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from testkit import report_files
from testkit.tiers import tier_of
from testkit.usage import UsageError

PASS, FAIL = "PASS", "FAIL"
# The step name make gives the shared run (ENHANCED_PLAN in make/testing.mk: tiers:test-tiers).
SHARED_STEP = "tiers"
RESULTS = (PASS, FAIL)


@dataclass(frozen=True)
class Step:
    """One step make ran: its name (a tier, or `tiers` for the shared run), its target, its
    result and its wall time."""

    name: str
    target: str
    result: str
    seconds: int


@dataclass(frozen=True)
class TierRun:
    """One tier inside the shared run: its tests, how many failed or errored, and their summed
    time (setup, call, teardown; on xdist workers, so more than the wall time they took)."""

    tier: str
    tests: int
    failed: int
    seconds: float

    @property
    def result(self) -> str:
        return FAIL if self.failed or not self.tests else PASS


@dataclass(frozen=True)
class Summary:
    steps: tuple[Step, ...]
    tiers: tuple[TierRun, ...]
    # Why the shared run's tiers are not shown (its JUnit XML is missing or unreadable).
    note: str = ""

    @property
    def failed(self) -> tuple[str, ...]:
        """The failed steps, and the shared tiers that failed (or ran no test)."""
        steps = [step.name for step in self.steps if step.result != PASS]
        return tuple(steps + [tier.tier for tier in self.tiers if tier.result != PASS])

    @property
    def seconds(self) -> int:
        return sum(step.seconds for step in self.steps)


def read_steps(path: Path) -> tuple[Step, ...]:
    """The step lines make wrote; a malformed line is a UsageError naming the file and line."""
    steps = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) != 4 or fields[2] not in RESULTS or not fields[3].isdigit():
            raise UsageError(
                f"{path}:{number}: expected 'step<TAB>target<TAB>PASS|FAIL<TAB>seconds', "
                f"got {line!r}"
            )
        steps.append(Step(fields[0], fields[1], fields[2], int(fields[3])))
    return tuple(steps)


def tier_runs(junit_xml: Path, tiers: Sequence[str]) -> tuple[TierRun, ...]:
    """Each of `tiers` as the shared run's JUnit XML saw it (a tier without a test: 0 tests, so
    FAIL). A missing or unreadable report is a UsageError naming it."""
    try:
        cases = ElementTree.parse(junit_xml).getroot().iter("testcase")
    except (OSError, ElementTree.ParseError) as error:
        message = f"{junit_xml}: no readable JUnit XML from the shared run ({error})"
        raise UsageError(message) from error
    return group_by_tier(cases, tiers)


def group_by_tier(
    cases: Iterable[ElementTree.Element], tiers: Sequence[str]
) -> tuple[TierRun, ...]:
    counts = {tier: [0, 0, 0.0] for tier in tiers}
    for case in cases:
        # classname is the test's path in dots (tests.unit.test_x.TestY): its tier folder.
        tier = tier_of(PurePath(*case.get("classname", "").split(".")))
        if tier not in counts:
            continue
        row = counts[tier]
        row[0] += 1
        row[1] += case.find("failure") is not None or case.find("error") is not None
        row[2] += float(case.get("time", "0") or 0)
    return tuple(
        TierRun(tier, int(tests), int(failed), seconds)
        for tier, (tests, failed, seconds) in counts.items()
    )


def render(summary: Summary) -> str:
    """The table: every step with its wall time; under the shared run, each of its tiers with
    its test count and summed test time; the total; the verdict line."""
    lines = [f"{'step':<17} {'target':<18} {'result':<7} {'duration':>9}"]
    for step in summary.steps:
        lines.append(f"{step.name:<17} {step.target:<18} {step.result:<7} {step.seconds:>8}s")
        if step.name == SHARED_STEP:
            lines += [f"  {summary.note}"] if summary.note else []
            lines += [
                f"  {tier.tier:<15} {f'{tier.tests} tests':<18} {tier.result:<7} "
                f"{tier.seconds:>8.0f}s of test time"
                for tier in summary.tiers
            ]
    lines.append(f"{'total':<17} {'':<18} {'':<7} {summary.seconds:>8}s")
    if summary.failed:
        lines.append(f"test-all-enhanced: FAILED: {' '.join(summary.failed)}")
    else:
        lines.append("test-all-enhanced: passed")
    return "\n".join(lines)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "enhanced-summary",
        help="test-all-enhanced's table: each step, the shared run's tiers; exit 1 on a failure",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=Path, default=report_files.ENHANCED_SUMMARY)
    parser.add_argument("--junit", type=Path, default=report_files.TIERS_JUNIT)
    parser.add_argument(
        "--tiers", nargs="*", default=[], help="the tiers of the shared run, in table order"
    )
    parser.set_defaults(handler=_run)


def _run(arguments: argparse.Namespace) -> int:
    steps = read_steps(arguments.steps)
    shared = [step for step in steps if step.name == SHARED_STEP]
    try:
        summary = Summary(steps, tier_runs(arguments.junit, arguments.tiers) if shared else ())
    except UsageError as error:
        if all(step.result == PASS for step in shared):
            raise  # a shared run that passed wrote its report: its absence is a real error
        summary = Summary(steps, (), note=str(error))
    print(render(summary))
    return 1 if summary.failed else 0
