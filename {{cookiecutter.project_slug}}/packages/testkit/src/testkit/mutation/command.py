"""`testkit mutation`: the mutation gate over the lines changed since a git base, or (--all) the
mutation score of the whole service for the nightly run.

`--all` measures instead of gating: it exits 1 only when mutmut could not run, and records the
score in the history, where the dashboard draws it.

The functions a diff touches are mutated by mutmut (testkit.mutation.workspace), which runs
each mutant against only the tests that call its function (it records them in one run of the
chosen tests first). The score counts the mutants on the changed lines: killed (a test failed,
timed out or the type checker caught it) over all of them; a surviving mutant, or one no test
reaches, is a change to that line the tests would not notice. The gate fails under the threshold
(MUTATION_THRESHOLD, else [tool.testkit] mutation_threshold) and lists each survivor with its
file, line and mutated code. No changed function: it passes at once, saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from testkit import report_files
from testkit.analytics.changes import ChangeError, change_from_git
from testkit.arguments import percent, positive_int
from testkit.diff_coverage import DEFAULT_BASE, inspect_repository
from testkit.mutation import workspace
from testkit.mutation.history import record_in_history
from testkit.mutation.mutants import line_change, parse_results, parse_shown
from testkit.mutation.scope import (
    SOURCE_ROOT_GLOBS,
    Scope,
    scope_of,
    source_root,
    whole_files,
)
from testkit.mutation.verdict import Mutant, MutationVerdict, judge
from testkit.project_settings import read_project_settings
from testkit.usage import UsageError

# The tests that decide, per kind of package: in-process tiers (mutmut runs them in its own
# process and forks a worker per mutant; a tier that starts servers would not see the mutants).
SERVICE_TESTS = ("tests/unit", "tests/property")
PACKAGE_TESTS = ("tests/unit",)  # below packages/<name>/


def packages(root: Path) -> dict[str, str]:
    """Every importable package in a source root: name -> its directory, project-relative."""
    found: dict[str, str] = {}
    for pattern in SOURCE_ROOT_GLOBS:
        for init in sorted(root.glob(f"{pattern}/*/__init__.py")):
            found.setdefault(init.parent.name, init.parent.relative_to(root).as_posix())
    return found


def default_tests(root: Path, directories: Sequence[str]) -> list[str]:
    """The in-process tiers of the packages being mutated (services: the project's unit and
    property tiers; packages/<name>: its own unit tests), those that exist."""
    chosen: list[str] = []
    for directory in directories:
        if directory.startswith("packages/"):
            package_root = "/".join(directory.split("/")[:2])
            chosen += [f"{package_root}/{tier}" for tier in PACKAGE_TESTS]
        else:
            chosen += SERVICE_TESTS
    return [t for t in dict.fromkeys(chosen) if (root / t).is_dir()]


def _sources(root: Path, paths: Sequence[str]) -> dict[str, str]:
    return {p: (root / p).read_text(encoding="utf-8") for p in paths if (root / p).is_file()}


def changed_scope(root: Path, base: str, roots: Sequence[str]) -> tuple[Scope, str, str]:
    """(what to mutate, the base compared with, a note when the base fell back to HEAD)."""
    choice = inspect_repository(root, base)
    if choice.ref is None:
        raise UsageError(f"testkit mutation --base {base}: {choice.error}")
    try:
        change = change_from_git(choice.ref, root)
    except ChangeError as error:
        raise UsageError(f"testkit mutation --base {base}: {error}") from None
    lines = dict(change.lines)
    for path in change.files:  # untracked files: every line is new
        if path not in lines and (root / path).is_file() and source_root(path, roots):
            lines[path] = tuple(
                range(1, len((root / path).read_text(encoding="utf-8").splitlines()) + 1)
            )
    return scope_of(lines, _sources(root, list(lines)), roots), choice.ref, choice.note


def mutants_of(
    scope: Scope, statuses: dict[str, str], diffs: dict[str, str], *, changed_only: bool
) -> list[Mutant]:
    """The mutants of the scope's functions, each placed on its file line; with `changed_only`,
    only those on a changed line."""
    found: list[Mutant] = []
    for target in scope.targets:
        for name, status in sorted(statuses.items()):
            if not name.startswith(target.prefix):
                continue
            change = line_change(diffs.get(name, ""))
            if change is None:
                continue
            line = target.function.first + change.offset - 1
            if changed_only and line not in target.changed:
                continue
            found.append(Mutant(name, status, target.path, line, change.original, change.mutated))
    return found


def mutate(
    root: Path, scope: Scope, tests: Sequence[str], log: Path, jobs: int, *, changed_only: bool
) -> list[Mutant]:
    """Run mutmut over the scope's functions; the mutants it made, with their results."""
    all_packages = packages(root)
    directories = {
        d for d in all_packages.values() if any(f.startswith(d + "/") for f in scope.files)
    }
    chosen = {name: d for name, d in all_packages.items() if d in directories}
    tests = list(tests) or default_tests(root, sorted(directories))
    space = workspace.prepare(root, chosen, scope.files if changed_only else (), tests)
    log.write_text(f"tests: {' '.join(tests)}\n", encoding="utf-8")
    workspace.run_mutants(
        space, [t.prefix for t in scope.targets] if changed_only else [], log, jobs
    )
    prefixes = tuple(t.prefix for t in scope.targets)
    statuses = {
        n: s for n, s in parse_results(workspace.results(space)).items() if n.startswith(prefixes)
    }
    diffs = parse_shown(workspace.shown(space, sorted(statuses)))
    return mutants_of(scope, statuses, diffs, changed_only=changed_only)


def _report(verdict: MutationVerdict, **extra: object) -> dict[str, object]:
    return {
        "verdict": "PASS" if verdict.passed else "FAIL",
        "score_percent": verdict.score,
        "threshold_percent": verdict.threshold,
        "killed": verdict.killed,
        "total": len(verdict.mutants),
        "reason": verdict.reason,
        "survivors": [asdict(m) for m in verdict.survivors],
        "mutants": [asdict(m) for m in verdict.mutants],
        **extra,
    }


def _print(verdict: MutationVerdict, seconds: float, output: Path) -> None:
    if verdict.score is None:
        print(f"  {'PASS' if verdict.passed else 'FAIL'}: {verdict.reason} [{seconds:.1f} s]")
    else:
        state = "PASS" if verdict.passed else "FAIL"
        print(
            f"  score {verdict.score:.1f}% ({verdict.killed}/{len(verdict.mutants)} killed), "
            f"threshold {verdict.threshold:g}%: {state} [{seconds:.1f} s]"
        )
        if verdict.reason:
            print(f"  {verdict.reason}")
    if verdict.survivors:
        print("  mutants the tests did not notice (file:line  original  ->  mutated  [status]):")
        for mutant in verdict.survivors:
            mutated = mutant.mutated or "(line removed)"
            print(f"    {mutant.place}  {mutant.original}  ->  {mutated}  [{mutant.status}]")
        print("  mutmut show <name> in .testkit/mutation shows one in full")
    print(f"  wrote {output}")


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "mutation",
        help="mutation gate: mutants of the lines changed since --base (mutmut); --all: every one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="git ref the change is compared with")
    parser.add_argument("--all", action="store_true", help="score every function of the services")
    parser.add_argument(
        "--threshold", type=percent, help="percent to kill (default: mutation_threshold)"
    )
    parser.add_argument(
        "--tests", nargs="*", default=[], help="test paths that decide (default: unit tiers)"
    )
    parser.add_argument(
        "--jobs", type=positive_int, default=os.cpu_count() or 1, help="mutants at once"
    )
    parser.add_argument("--output", type=Path, default=report_files.MUTATION)
    parser.add_argument("--root", type=Path, default=Path(), help="the project's root")
    parser.set_defaults(handler=run_command)


def run_command(arguments: argparse.Namespace) -> int:
    started = time.monotonic()
    root: Path = arguments.root.resolve()
    threshold = arguments.threshold
    if threshold is None:
        threshold = read_project_settings(root / "pyproject.toml").number("mutation_threshold")
    roots = [
        p.relative_to(root).as_posix() for g in SOURCE_ROOT_GLOBS for p in sorted(root.glob(g))
    ]
    output: Path = arguments.output
    output.parent.mkdir(parents=True, exist_ok=True)
    log = output.with_suffix(".log")
    extra: dict[str, object] = {"base": None, "note": ""}
    if arguments.all:
        service_roots = [r for r in roots if r.startswith("services/")]
        files = [
            p.relative_to(root).as_posix()
            for r in service_roots
            for p in sorted((root / r).rglob("*.py"))
        ]
        scope = whole_files(_sources(root, files), service_roots)
        heading = (
            f"mutation score of {len(scope.files)} service files ({len(scope.targets)} functions)"
        )
    else:
        scope, base, note = changed_scope(root, arguments.base, roots)
        extra = {"base": base, "note": note}
        lines = sum(len(t.changed) for t in scope.targets)
        heading = (
            f"mutation gate vs {base}: {lines} changed lines in {len(scope.targets)} functions"
            f" of {len(scope.files)} files" + (f" ({note})" if note else "")
        )
        if scope.outside:
            held = sum(map(len, scope.outside.values()))
            heading += f"; {held} changed lines outside functions (not mutated)"
    print(heading, flush=True)
    if not scope.targets:
        verdict = judge([], threshold, nothing_to_mutate="nothing to mutate: no changed function")
    else:
        print(f"  running mutmut (log: {log})", flush=True)
        try:
            found = mutate(
                root, scope, arguments.tests, log, arguments.jobs, changed_only=not arguments.all
            )
        except workspace.MutmutError as error:
            verdict = MutationVerdict(False, threshold, (), str(error))
        else:
            verdict = judge(
                found, threshold, nothing_to_mutate="mutmut made no mutant on a changed line"
            )
    seconds = time.monotonic() - started
    report = _report(verdict, seconds=round(seconds, 1), files=list(scope.files), **extra)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _print(verdict, seconds, output)
    if verdict.mutants:
        scope_name = "all" if arguments.all else "changed"
        print(f"  score {record_in_history(root, verdict, scope=scope_name)}")
    if arguments.all:  # a measurement: only a run that did not finish fails
        return 0 if verdict.mutants or verdict.passed else 1
    return 0 if verdict.passed else 1
