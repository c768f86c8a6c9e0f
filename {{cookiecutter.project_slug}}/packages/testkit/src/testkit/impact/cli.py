"""`testkit impact build|show|select`: record the impact map, inspect it, preview a selection."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from testkit import options
from testkit.analytics.changes import ChangeError, change_from_files, change_from_git
from testkit.impact.map import DEFAULT_MAP, ImpactMap, ImpactMapError, read_map
from testkit.impact.rules import load_rules
from testkit.impact.selection import read_current, select_tests


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "impact",
        help="build, show or preview the impact map (which tests execute which code)",
        description="Impact selection: `build` records the map (the whole suite under "
        "coverage.py, one context per test), `show` summarises it, `select` previews which "
        "tests a change would run.",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: .)")
    parser.add_argument(
        "--map",
        dest="map_file",
        default=None,
        help=f"map file relative to the root (default: env {options.IMPACT_MAP.env} or "
        f"{DEFAULT_MAP})",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", help="run the suite with per-test coverage and write the map"
    )
    build.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments (e.g. -n 2)"
    )
    build.set_defaults(handler=run_build)
    show = actions.add_parser("show", help="summarise the map; --file lists one file's functions")
    show.add_argument("--file", help="a source file (relative to the root)")
    show.set_defaults(handler=run_show)
    select = actions.add_parser("select", help="print what a change would run, without running")
    source = select.add_mutually_exclusive_group(required=True)
    source.add_argument("--changed", help="comma-separated changed files (CHANGED_FILES)")
    source.add_argument("--base", help="git ref: the changes since it (BASE)")
    select.add_argument("--list", action="store_true", help="also list the selected test ids")
    select.set_defaults(handler=run_select)


def _map_path(arguments: argparse.Namespace) -> Path:
    raw = arguments.map_file or options.env_setting(options.IMPACT_MAP) or DEFAULT_MAP
    return Path(arguments.root) / raw


def run_build(arguments: argparse.Namespace) -> int:
    extra = [a for a in arguments.pytest_args if a != "--"]
    command = [sys.executable, "-m", "pytest", f"{options.IMPACT_RECORD.flag}=1", *extra]
    print("testkit impact: recording (" + " ".join(command[2:]) + ")", flush=True)
    # pytest prints the progress; its exit code is ours (the map is written either way).
    return subprocess.run(command, cwd=arguments.root, check=False).returncode


def _load(arguments: argparse.Namespace) -> ImpactMap | None:
    try:
        return read_map(_map_path(arguments))
    except ImpactMapError as error:
        print(f"testkit impact: {error}", file=sys.stderr)
        return None


def run_show(arguments: argparse.Namespace) -> int:
    impact_map = _load(arguments)
    if impact_map is None:
        return 1
    root = Path(arguments.root)
    if arguments.file in impact_map.data_files:
        readers = impact_map.data_files[arguments.file].tests
        print(f"{arguments.file}: a data file read by {len(readers)} tests")
        return 0
    if arguments.file:
        entry = impact_map.files.get(arguments.file)
        if entry is None:
            print(f"testkit impact: {arguments.file} is not in the map", file=sys.stderr)
            return 1
        print(f"{entry.path}: {len(entry.tests())} tests; module level: {len(entry.module_tests)}")
        for function in entry.functions:
            print(
                f"  {function.name} (lines {function.start}-{function.end}): "
                f"{len(function.tests)} tests"
            )
        return 0
    stale = read_current(root, impact_map).stale(impact_map)
    age_h = (time.time() - impact_map.created_at) / 3600
    print(f"map: {_map_path(arguments)} (built {age_h:.1f} h ago)")
    print(
        f"tests: {len(impact_map.tests)} recorded, {len(impact_map.unreliable)} failed or "
        "skipped while recording (always selected)"
    )
    print(
        f"files: {len(impact_map.files)}, "
        f"functions: {sum(len(e.functions) for e in impact_map.files.values())}, "
        f"data files read by tests: {len(impact_map.data_files)}"
    )
    print(f"stale files (changed since the map was built): {len(stale)}")
    for path in stale[:20]:
        print(f"  {path}")
    return 0


def run_select(arguments: argparse.Namespace) -> int:
    impact_map = _load(arguments)
    if impact_map is None:
        return 1
    root = Path(arguments.root)
    try:
        if arguments.changed:
            change = change_from_files(arguments.changed, root)
        else:
            change = change_from_git(arguments.base, root)
        rules = load_rules(root)
    except (ChangeError, ValueError) as error:
        print(f"testkit impact: {error}", file=sys.stderr)
        return 2
    selection = select_tests(
        change, impact_map, read_current(root, impact_map, change.files), rules
    )
    for reason in selection.reasons:
        print(f"reason: {reason}")
    if selection.run_all:
        print("selection: every test")
        return 0
    chosen = sorted(n for n in impact_map.tests if selection.selects(n))
    print(
        f"selection: {len(chosen)} of {len(impact_map.tests)} mapped tests, plus every test "
        "not in the map"
    )
    if arguments.list:
        for nodeid in chosen:
            print(nodeid)
    return 0
