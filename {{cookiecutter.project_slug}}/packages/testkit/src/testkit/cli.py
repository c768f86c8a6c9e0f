"""The `testkit` command: one subcommand per concern.

`testkit infra [--check]` lives here; every other subcommand lives beside the code it drives
and is listed in COMMAND_MODULES: each such module has `add_command(commands)`, which adds its
subparser and sets `handler` (a function taking the parsed arguments and returning the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from testkit import options
from testkit.infra import (
    InfraManager,
    ServiceUnavailable,
    default_sources,
    installed_services,
)
from testkit.infra.checks import check_service
from testkit.infra.leftovers import remove_leftovers
from testkit.project_settings import ProjectSettingsError
from testkit.usage import UsageError

# Modules that contribute a subcommand (see the module docstring), in `--help` order.
COMMAND_MODULES: tuple[str, ...] = (
    "testkit.perf.cli",
    "testkit.analytics.commands",
    "testkit.impact.cli",
    "testkit.analytics.flake_hunt_commands",
    "testkit.analytics.report",
    "testkit.diff_coverage",
    "testkit.mutation.command",
    "testkit.gates_command",
    "testkit.enhanced",
    "testkit.dependencies",
    "testkit.tiers",
    "testkit.project_settings",
    "testkit.report_files",
    "testkit.replay_frozen",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="testkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    infra = commands.add_parser(
        "infra",
        help="print each service's source (TEST_*_URL, testcontainers, local binary)",
        description="Print the source each service resolves to, as the pytest header does.",
    )
    infra.add_argument(
        "--check",
        action="store_true",
        help="also start or connect to each service and run a query; exit 1 if any fails",
    )
    infra.add_argument(
        "--reset",
        action="store_true",
        help="drop the databases and keys killed test runs left on each server (reset-test-db)",
    )
    infra.set_defaults(handler=lambda arguments: run_infra(arguments.check, arguments.reset))
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_command(commands)
    return parser


def run_infra(check: bool, reset: bool = False) -> int:
    urls = {
        service: options.env_setting(setting) for service, setting in options.URL_SETTINGS.items()
    }
    manager = InfraManager(default_sources(urls), installed_services())
    if not manager.services:
        print("no service clients installed (testkit[postgres], [redis], [nats] extras)")
        return 1 if check or reset else 0
    failures = 0
    try:
        for service in manager.services:
            resolution = manager.resolution(service)
            line = f"{service}: {resolution.describe()}"
            if check or reset:
                try:
                    endpoint = manager.endpoint(service)
                    check_service(endpoint)
                    removed = remove_leftovers(endpoint) if reset else None
                except ServiceUnavailable as error:
                    line += f" -> failed: {error}"
                    failures += 1
                except Exception as error:  # any client error is a failed check, reported as such
                    line += f" -> failed: {type(error).__name__}: {error}"
                    failures += 1
                else:
                    line += " -> ok" + (f", {removed.describe()}" if removed else "")
            print(line, flush=True)
    finally:
        manager.stop_all()
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        exit_code: int = arguments.handler(arguments)
    except (UsageError, ProjectSettingsError) as error:
        # Bad input, wherever a command found it: one line, exit 2 (testkit.usage).
        print(f"testkit {arguments.command}: {error}", file=sys.stderr, flush=True)
        return 2
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
