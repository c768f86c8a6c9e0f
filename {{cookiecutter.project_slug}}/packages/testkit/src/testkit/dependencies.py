"""Locked dependencies: the resolution date in pyproject.toml and what changed between two locks.

The project resolves as of `[tool.uv] exclude-newer` in pyproject.toml: the date the template's
CI last tested, so two bakes of one template commit lock the same versions whatever day they
are made. `make upgrade-deps` moves the date on purpose (`testkit deps set-date`), relocks and
prints what changed (`testkit deps diff`).

Standard library only: the template's newest-deps canary loads this file on its own, before
(or without) an installed project.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# The one line `set-date` rewrites; written by the template as `exclude-newer = "<date>"`.
EXCLUDE_NEWER = re.compile(r'^(exclude-newer\s*=\s*)"([^"\n]*)"', re.MULTILINE)
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class VersionChange:
    """One package whose locked version differs; None on a side where it is absent."""

    name: str
    before: str | None
    after: str | None

    def describe(self) -> str:
        if self.before is None:
            return f"{self.name} (new) {self.after}"
        if self.after is None:
            return f"{self.name} {self.before} (removed)"
        return f"{self.name} {self.before} -> {self.after}"


def locked_versions(lock_text: str) -> dict[str, str]:
    """Package name -> version from a uv.lock, without the workspace's own members."""
    packages = tomllib.loads(lock_text).get("package", [])
    return {
        package["name"]: package["version"]
        for package in packages
        if "version" in package and not _is_workspace_member(package.get("source", {}))
    }


def _is_workspace_member(source: Mapping[str, object]) -> bool:
    return "editable" in source or "virtual" in source


def version_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[VersionChange]:
    """Every package added, removed or at another version, sorted by name."""
    return [
        VersionChange(name, before.get(name), after.get(name))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def resolution_date(pyproject_text: str) -> str | None:
    match = EXCLUDE_NEWER.search(pyproject_text)
    return match.group(2) if match else None


def with_resolution_date(pyproject_text: str, date: str) -> str:
    """pyproject.toml with its exclude-newer line set to `date` (an RFC 3339 UTC time)."""
    parse_date(date)
    if resolution_date(pyproject_text) is None:
        raise ValueError('pyproject.toml has no [tool.uv] line `exclude-newer = "<date>"` to move')
    return EXCLUDE_NEWER.sub(lambda match: f'{match.group(1)}"{date}"', pyproject_text, count=1)


def parse_date(text: str) -> datetime:
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(
            f"the resolution date must look like 2026-12-06T00:00:00Z (UTC), got {text!r}"
        ) from None


def now() -> str:
    return datetime.now(UTC).strftime(DATE_FORMAT)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deps = commands.add_parser(
        "deps",
        help="the locked dependencies: move the resolution date, diff two locks",
        description=__doc__,
    )
    actions = deps.add_subparsers(dest="deps_command", required=True, metavar="ACTION")
    set_date = actions.add_parser(
        "set-date", help="set [tool.uv] exclude-newer in pyproject.toml (default: now)"
    )
    set_date.add_argument(
        "--date", default=None, help="RFC 3339 UTC time, e.g. 2026-12-06T00:00:00Z"
    )
    set_date.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    set_date.set_defaults(handler=lambda a: run_set_date(a.pyproject, a.date or now()))
    diff = actions.add_parser("diff", help="list the packages whose locked version differs")
    diff.add_argument("before", type=Path)
    diff.add_argument("after", type=Path)
    diff.set_defaults(handler=lambda a: run_diff(a.before, a.after))


def run_set_date(pyproject: Path, date: str) -> int:
    text = pyproject.read_text(encoding="utf-8")
    try:
        updated = with_resolution_date(text, date)
    except ValueError as error:
        print(f"testkit deps set-date: {pyproject}: {error}", file=sys.stderr)
        return 2
    pyproject.write_text(updated, encoding="utf-8")
    print(f"{pyproject}: exclude-newer {resolution_date(text)} -> {date}")
    return 0


def run_diff(before: Path, after: Path) -> int:
    changes = version_changes(
        locked_versions(before.read_text(encoding="utf-8")),
        locked_versions(after.read_text(encoding="utf-8")),
    )
    print(f"{len(changes)} locked package(s) changed ({before} -> {after})")
    for change in changes:
        print(f"  {change.describe()}")
    return 0
