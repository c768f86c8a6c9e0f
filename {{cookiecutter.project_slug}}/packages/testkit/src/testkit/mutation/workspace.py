"""The directory mutmut runs in, and running it there.

mutmut 3 names a module after the file's path below the directory it runs in (with a leading
`src.` dropped) and puts `mutants/src` first on sys.path, so it expects `src/<package>` beside
`tests/`. A monorepo has `services/api/src/<package>` instead; the workspace
(.testkit/mutation) gives mutmut that layout without copying anything: `src/<package>` links to
each package to mutate, every other top-level entry of the project links to the original (the
tests find their data, migrations and fixtures where they expect them), and pyproject.toml is the
project's own with a generated [tool.mutmut] table (which files, which tests). mutmut copies what
it needs into `mutants/` there; its results stay there until the next run (`mutmut show NAME`,
`mutmut browse`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

WORKSPACE = Path(".testkit") / "mutation"
# Top-level entries mutmut must not copy into mutants/: tool state, virtualenvs, reports.
NOT_LINKED = frozenset(
    {".git", ".venv", ".tools", ".testkit", "reports", "locust-reports", "site", "mutants", "src"}
)
_MUTMUT_TABLE = re.compile(r"^\[tool\.mutmut\][^\[]*", re.MULTILINE)
# Shown with each mutant's diff, in one process (a `mutmut show` per mutant costs 0.5 s each).
_SHOW_ALL = (
    "import sys\nfrom mutmut.__main__ import cli\n"
    "for name in sys.argv[1:]:\n    cli(['show', name], standalone_mode=False)\n"
)


class MutmutError(RuntimeError):
    """mutmut could not run the tests (they fail unmutated, or none touches the changed code)."""


@dataclass(frozen=True, slots=True)
class MutmutConfig:
    """What goes into [tool.mutmut]: the packages (name -> directory), the files to mutate
    (relative to the project; empty: every file) and the tests that decide."""

    packages: Mapping[str, str]
    only: Sequence[str]
    tests: Sequence[str]
    also_copy: Sequence[str]

    def workspace_path(self, path: str) -> str:
        """A project file as mutmut sees it from the workspace: `src/<package>/...`."""
        for package, directory in self.packages.items():
            if path.startswith(directory + "/"):
                return f"src/{package}/{path.removeprefix(directory + '/')}"
        raise ValueError(f"{path} is not in a package to mutate: {', '.join(self.packages)}")

    def table(self) -> str:
        def strings(values: Sequence[str]) -> str:
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"

        lines = [
            "[tool.mutmut]",
            f"source_paths = {strings([f'src/{p}' for p in self.packages])}",
            f"pytest_add_cli_args_test_selection = {strings(self.tests)}",
            # One process: mutmut forks a worker per mutant itself. No random order: the
            # stats run and the mutant runs must see the same tests.
            'pytest_add_cli_args = ["-p", "no:xdist", "-p", "no:randomly"]',
            # A mutant that makes a test hang is killed after (the tests' time + 5 s) x 4 of wall
            # time; mutmut's default (x 15) lets a few hangs take most of a nightly run.
            "timeout_multiplier = 4.0",
            "timeout_constant = 5.0",
            f"also_copy = {strings(self.also_copy)}",
        ]
        if self.only:
            lines.append(f"only_mutate = {strings([self.workspace_path(p) for p in self.only])}")
        return "\n".join(lines) + "\n"


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent))


def linked_entries(root: Path) -> list[str]:
    """The project's top-level entries the workspace links to (and mutmut copies)."""
    names = (p.name for p in root.iterdir() if p.name != "pyproject.toml")
    return sorted(n for n in names if n not in NOT_LINKED and not n.endswith("_cache"))


def prepare(
    root: Path, packages: Mapping[str, str], only: Sequence[str], tests: Sequence[str]
) -> Path:
    """Create or refresh the workspace below `root` for mutmut to run in."""
    workspace = root / WORKSPACE
    workspace.mkdir(parents=True, exist_ok=True)
    entries = linked_entries(root)
    config = MutmutConfig(packages, only, tests, entries)
    for stale in workspace.iterdir():
        if stale.is_symlink() and stale.name not in entries:
            stale.unlink()
    for name in entries:
        _link(workspace / name, root / name)
    for package, directory in packages.items():
        _link(workspace / "src" / package, root / directory)
    # A fresh mutants/ each run: mutmut's caches (which tests call which function, which files
    # it already mutated) assume one fixed configuration, and the files to mutate change with
    # every diff; a stale cache leaves changed functions with no test or no working mutant.
    shutil.rmtree(workspace / "mutants", ignore_errors=True)
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    own = _MUTMUT_TABLE.sub("", pyproject).rstrip("\n")  # the project's [tool.mutmut] gives way
    (workspace / "pyproject.toml").write_text(own + "\n\n" + config.table(), encoding="utf-8")
    return workspace


def _mutmut(workspace: Path, *arguments: str, log: Path) -> int:
    with log.open("a", encoding="utf-8") as out:
        command = [sys.executable, "-m", "mutmut", *arguments]
        done = subprocess.run(command, cwd=workspace, stdout=out, stderr=subprocess.STDOUT)
    return done.returncode


def _failure(log: Path, status: int) -> str:
    """Why `mutmut run` stopped, from its log: the tests that failed unmutated, else its last
    line."""
    text = log.read_text(encoding="utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines()]
    failed = [line.removeprefix("FAILED ") for line in lines if line.startswith("FAILED ")]
    if failed:
        return f"the tests fail without any mutant (fix them first): {', '.join(failed[:3])}"
    last = [line for line in lines if line][-1:]
    return f"mutmut run failed (exit {status}): {last[0] if last else 'no output'}"


def run_mutants(workspace: Path, prefixes: Sequence[str], log: Path, jobs: int) -> None:
    """`mutmut run` for the mutants of the given functions (all of them when empty)."""
    names = [f"{prefix}*" for prefix in prefixes]
    status = _mutmut(workspace, "run", "--max-children", str(jobs), *names, log=log)
    if status != 0:
        raise MutmutError(f"{_failure(log, status)} (log: {log})")


def results(workspace: Path) -> str:
    """`mutmut results --all true`: every mutant's status."""
    command = [sys.executable, "-m", "mutmut", "results", "--all", "true"]
    done = subprocess.run(command, cwd=workspace, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise MutmutError(f"mutmut results failed: {done.stderr.strip()[-300:]}")
    return done.stdout


def shown(workspace: Path, names: Sequence[str]) -> str:
    """Every named mutant's diff, one process for all (mutmut show's output, concatenated)."""
    if not names:
        return ""
    command = [sys.executable, "-c", _SHOW_ALL, *names]
    done = subprocess.run(command, cwd=workspace, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise MutmutError(f"mutmut show failed: {done.stderr.strip()[-300:]}")
    return done.stdout
