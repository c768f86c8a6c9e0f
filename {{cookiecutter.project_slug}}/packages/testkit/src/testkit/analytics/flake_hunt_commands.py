"""`testkit find-polluter TEST` and `testkit flakiness-new --base REF`: the two hunts for flakes
a plain rerun misses (testkit.analytics.polluter: order-dependent failures; testkit.analytics.
new_tests: new tests run many times before they merge). Errors are one line and exit 2."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from testkit.analytics.changes import ChangeError, change_from_git
from testkit.analytics.command_support import history_path, open_store
from testkit.analytics.flakiness_report import RerunError, RerunPlan, collect_nodeids, run_reruns
from testkit.analytics.new_tests import is_test_file, judge, select_changed_tests, summary
from testkit.analytics.polluter import PolluterError, bisect, plan_search
from testkit.arguments import positive_int
from testkit.project_settings import ProjectSettingsError, read_project_settings
from testkit.usage import UsageError


def _has_history(rootdir: Path) -> bool:
    try:
        return history_path(rootdir).is_file()
    except UsageError:  # TESTKIT_HISTORY=off: the collection order it is
        return False


def run_find_polluter(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    victim = arguments.test
    try:
        collected = collect_nodeids(rootdir, arguments.pytest_args)
        store = open_store(rootdir) if _has_history(rootdir) else None
        search = plan_search(store, victim, collected, arguments.run)
    except (RerunError, PolluterError) as error:
        raise UsageError(str(error)) from None
    if store is not None:
        store.close()
    print(
        f"find-polluter: bisecting the {len(search.candidates)} tests that ran before {victim} "
        f"({search.origin})",
        flush=True,
    )
    verdict = bisect(
        search,
        rootdir=rootdir,
        base_environment=dict(os.environ),
        progress=lambda line: print(line, flush=True),
    )
    print(f"find-polluter: {verdict.message}")
    return 0 if verdict.found else 1


def _runs(arguments: argparse.Namespace, rootdir: Path) -> int:
    if arguments.runs is not None:
        return int(arguments.runs)
    try:
        settings = read_project_settings(rootdir / "pyproject.toml")
    except ProjectSettingsError as error:
        raise UsageError(str(error)) from None
    return int(settings.number("flakiness_new_runs"))


def run_flakiness_new(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    runs = _runs(arguments, rootdir)
    try:
        change = change_from_git(arguments.base, rootdir)
    except ChangeError as error:
        raise UsageError(f"flakiness-new: BASE={arguments.base}: {error}") from None
    test_files = [
        path for path in change.files if is_test_file(path) and (rootdir / path).is_file()
    ]
    if not test_files:
        print(f"flakiness-new: no new or changed test file since {arguments.base}: nothing to run")
        return 0
    sources = {path: (rootdir / path).read_text(encoding="utf-8") for path in test_files}
    # A file git reports with no changed lines is untracked: every test in it is new.
    new_files = [path for path in test_files if path not in change.lines]
    try:
        collected = collect_nodeids(rootdir, [*test_files, *arguments.pytest_args])
        selected = select_changed_tests(collected, change.lines, new_files, sources)
        if not selected:
            print(f"flakiness-new: no new or changed test since {arguments.base}: nothing to run")
            return 0
        print(f"flakiness-new: {len(selected)} new or changed test(s), {runs} random-order runs")
        store = open_store(rootdir, create=True)
        tally = run_reruns(
            RerunPlan(list(selected), False, runs),
            store=store,
            rootdir=rootdir,
            extra_args=arguments.pytest_args,
            progress=lambda line: print(line, flush=True),
            label="new",
        ).counts
        alone: dict[str, str] = {}
        for index, nodeid in enumerate(selected, start=1):
            passes, failures = run_reruns(
                RerunPlan([nodeid], False, 1),
                store=store,
                rootdir=rootdir,
                extra_args=arguments.pytest_args,
                progress=lambda _line: None,
                label=f"new-alone{index}",
            ).counts.get(nodeid, (0, 0))
            alone[nodeid] = "passed" if passes else "failed" if failures else "skipped"
    except RerunError as error:
        raise UsageError(str(error)) from None
    verdicts = []
    for nodeid in selected:
        # A parametrized test's node id stands for its instances: judge each instance.
        instances = [key for key in tally if key == nodeid or key.startswith(nodeid + "[")]
        for instance in instances or [nodeid]:
            passes, failures = tally.get(instance, (0, 0))
            verdicts.append(judge(instance, passes, failures, alone.get(instance, "skipped")))
    for verdict in verdicts:
        print(f"  {verdict.line()}")
    print(summary(verdicts, runs, arguments.base))
    return 0 if all(verdict.stable for verdict in verdicts) else 1


def add_command(commands: Any) -> None:
    polluter = commands.add_parser(
        "find-polluter",
        help="bisect the tests that ran before TEST for the one that makes it fail",
        description="Bisect (detect-test-pollution) the tests that ran before TEST, in a "
        "recorded run's order (--run, else the newest run TEST failed in) or the collection "
        "order, and name the test after which TEST fails.",
    )
    polluter.add_argument("test", metavar="TEST", help="the failing test's node id")
    polluter.add_argument("--run", metavar="RUN_ID", help="take the order of this recorded run")
    polluter.add_argument("pytest_args", nargs="*", help="extra pytest collection arguments")
    polluter.set_defaults(handler=run_find_polluter)

    new = commands.add_parser(
        "flakiness-new",
        help="run the tests new or changed since BASE many times and alone; fail on unstable ones",
        description="Early flake detection: each test whose lines changed since --base runs "
        "--runs times in random orders, then alone; exit 1 naming each unstable one.",
    )
    new.add_argument("--base", required=True, help="the git revision to diff against")
    new.add_argument(
        "--runs", type=positive_int, help="random-order runs (default flakiness_new_runs)"
    )
    new.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    new.set_defaults(handler=run_flakiness_new)
