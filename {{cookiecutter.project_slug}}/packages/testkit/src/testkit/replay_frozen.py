"""`testkit replay-frozen`: replay the recorded cassettes with the provider and model frozen.

First every recording is checked against the frozen provider and model (one line per mismatch,
exit 1, nothing run); then the tests that own the cassettes run in GOLDEN mode, so their HTTP
comes from the recordings and a request the code now makes differently fails by name. Without
--provider/--model the frozen version is the one the recordings agree on; recordings of two
versions are then an error.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from testkit import options
from testkit.cassettes import (
    PROVIDERS,
    CassetteError,
    frozen_problems,
    owning_tests,
    read_cassettes,
    recorded_version,
    summary,
)
from testkit.golden import DEFAULT_CASSETTE_DIR
from testkit.usage import UsageError


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "replay-frozen",
        help="check every cassette was recorded with the frozen provider and model, then "
        "replay them (GOLDEN mode)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--provider",
        help=f"frozen provider ({', '.join(PROVIDERS)}); default: the recordings' provider",
    )
    parser.add_argument(
        "--model", help="frozen model, e.g. gpt-4o-mini; default: the recordings' model"
    )
    parser.add_argument("--tests-dir", default="tests", help="where the owning tests are")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    parser.set_defaults(handler=run_replay_frozen)


def run_replay_frozen(arguments: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    cassette_dir = rootdir / (options.env_setting(options.CASSETTE_DIR) or DEFAULT_CASSETTE_DIR)
    try:
        recordings = read_cassettes(cassette_dir, root=rootdir)
        if not recordings:
            raise UsageError(f"replay-frozen: no cassettes in {cassette_dir}")
        if arguments.provider is None or arguments.model is None:
            recorded = recorded_version(recordings)
            arguments.provider = arguments.provider or recorded.provider
            arguments.model = arguments.model or recorded.model
        problems = frozen_problems(recordings, provider=arguments.provider, model=arguments.model)
    except CassetteError as error:
        raise UsageError(f"replay-frozen: {error}") from None
    if problems:
        for problem in problems:
            print(f"replay-frozen: {problem}")
        print(
            f"replay-frozen: {len(problems)} of {len(recordings)} recordings do not match the "
            f"frozen {arguments.provider} {arguments.model}; nothing replayed"
        )
        return 1
    tests = owning_tests(cassette_dir, rootdir / arguments.tests_dir)
    if not tests:
        raise UsageError(f"replay-frozen: no test module owns the cassettes in {cassette_dir}")
    print(
        f"replay-frozen: {summary(recordings)}, all {arguments.provider} {arguments.model}; "
        f"replaying {len(tests)} test module(s) in GOLDEN mode",
        flush=True,
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        *(str(test.relative_to(rootdir)) for test in tests),
        *arguments.pytest_args,
    ]
    environment = {**os.environ, options.MODE.env: "GOLDEN"}
    environment.pop(options.RECORD.env, None)  # a replay never records
    return subprocess.run(command, cwd=rootdir, env=environment, check=False).returncode
