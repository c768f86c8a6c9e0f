"""The newest-deps canary: bake, resolve with no date limit, run the bake's `make test`.

A bake resolves as of the date the template records (`_uv_exclude_newer` in cookiecutter.json,
rendered into the bake's `[tool.uv] exclude-newer`), so users install what the template's CI
tested. The canary tells the template first when a newer release breaks a bake: for each bake
it locks at the recorded date, then runs the bake's own `make upgrade-deps DATE=<now>` (relock
to the newest releases, fast tiers) and `make test`. On a failure it names every locked
package whose version differs from the recorded date's resolution: the release that broke the
bake is among them. When every bake is green, `move-date` records the date it tested.

    python scripts/canary.py run [--bakes default,minimal] [--date <UTC time>]
    python scripts/canary.py move-date <UTC time>

`--override PKG==VERSION` forces a version into the newest resolution, as an upstream release
would (the template's test pins a release known to break a bake and checks the message).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = "cookiecutter.json"
DATE_KEY = "_uv_exclude_newer"
# The bakes the canary covers: the fullest and the smallest dependency sets.
BAKES: dict[str, dict[str, str]] = {
    "default": {},
    "minimal": {
        "include_sample_service": "no",
        "use_redis": "no",
        "use_nats": "no",
        "ci_provider": "none",
    },
}
# Variables of this process that must not reach a bake's own make and uv.
FOREIGN_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
UV_TABLE = re.compile(r"^\[tool\.uv\]\n", re.MULTILINE)


def load_dependencies() -> ModuleType:
    """testkit's dependencies module (standard library only), loaded from the template tree."""
    path = next(TEMPLATE_ROOT.glob("*/packages/testkit/src/testkit/dependencies.py"))
    spec = importlib.util.spec_from_file_location("testkit_dependencies", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


DEPENDENCIES = load_dependencies()


@dataclass(frozen=True)
class Outcome:
    """One bake's canary result: the step that failed (None when green) and what moved."""

    bake: str
    failed_step: str | None
    changes: list[str]
    recorded_date: str
    tested_date: str

    def report(self) -> str:
        moved = "\n".join(f"  {change}" for change in self.changes) or "  (no locked version moved)"
        if self.failed_step is None:
            return (
                f"canary {self.bake}: green with the releases up to {self.tested_date}; "
                f"{len(self.changes)} locked package(s) moved since {self.recorded_date}:\n{moved}"
            )
        return (
            f"canary {self.bake}: `make {self.failed_step}` failed with the releases up to "
            f"{self.tested_date}. Locked versions that changed since the recorded date "
            f"{self.recorded_date} (the release that broke the bake is among them):\n{moved}"
        )


def bake_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_ENV}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def step(description: str, command: Sequence[str], cwd: Path, log: Path) -> bool:
    """Run one step with its output appended to `log`; print its name, time and result."""
    print(f"  {description}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(
            command, cwd=cwd, env=bake_env(), stdout=out, stderr=subprocess.STDOUT, check=False
        )
    verdict = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    print(f"    {verdict} in {time.monotonic() - started:.0f}s", flush=True)
    return result.returncode == 0


def with_overrides(pyproject_text: str, overrides: Sequence[str]) -> str:
    """pyproject.toml whose [tool.uv] table forces `overrides` (PEP 508 requirements)."""
    if not overrides:
        return pyproject_text
    line = f"override-dependencies = {json.dumps(list(overrides))}\n"
    updated, found = UV_TABLE.subn(lambda match: match.group(0) + line, pyproject_text, count=1)
    if not found:
        raise ValueError("pyproject.toml has no [tool.uv] table to add overrides to")
    return updated


def run_bake(
    name: str, template: Path, output: Path, date: str, overrides: Sequence[str]
) -> Outcome:
    print(f"canary {name}:", flush=True)
    destination = output / name
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    log = output / f"{name}.log"
    log.unlink(missing_ok=True)
    options = [f"{key}={value}" for key, value in BAKES[name].items()]
    cookiecutter = [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir"]
    if not step("bake", [*cookiecutter, str(destination), str(template), *options], output, log):
        return Outcome(name, "bake (cookiecutter)", [], "?", date)
    project = next(path for path in destination.iterdir() if path.is_dir())
    pyproject = project / "pyproject.toml"
    recorded_date = DEPENDENCIES.resolution_date(pyproject.read_text(encoding="utf-8")) or "?"
    if not step("lock at the recorded date", ["make", "install"], project, log):
        return Outcome(name, "install", [], recorded_date, date)
    recorded_lock = output / f"{name}.recorded.lock"
    shutil.copyfile(project / "uv.lock", recorded_lock)
    pyproject.write_text(
        with_overrides(pyproject.read_text(encoding="utf-8"), overrides), encoding="utf-8"
    )
    failed = None
    for target in (["upgrade-deps", f"DATE={date}"], ["test"]):
        if not step(f"make {target[0]}", ["make", *target], project, log):
            failed = target[0]
            break
    changes = DEPENDENCIES.version_changes(
        DEPENDENCIES.locked_versions(recorded_lock.read_text(encoding="utf-8")),
        DEPENDENCIES.locked_versions((project / "uv.lock").read_text(encoding="utf-8")),
    )
    outcome = Outcome(name, failed, [c.describe() for c in changes], recorded_date, date)
    if failed is not None:
        print(f"  the output of every step: {log}")
    return outcome


def run(args: argparse.Namespace) -> int:
    date = args.date or DEPENDENCIES.now()
    args.output.mkdir(parents=True, exist_ok=True)
    outcomes = [
        run_bake(name, args.template, args.output, date, args.override) for name in args.bakes
    ]
    report = "\n\n".join(outcome.report() for outcome in outcomes)
    (args.output / "report.md").write_text(report + "\n", encoding="utf-8")
    print("\n" + report)
    if any(outcome.failed_step for outcome in outcomes):
        return 1
    (args.output / "tested-date").write_text(date + "\n", encoding="utf-8")
    print(f"\nall green: record the tested date with `make move-resolution-date DATE={date}`")
    return 0


def move_date(args: argparse.Namespace) -> int:
    """Set the template's recorded resolution date; keeps cookiecutter.json's layout."""
    DEPENDENCIES.parse_date(args.date)
    path = args.template / COOKIECUTTER_JSON
    text = path.read_text(encoding="utf-8")
    before = json.loads(text)[DATE_KEY]
    pattern = re.compile(rf'("{DATE_KEY}":\s*)"[^"]*"')
    path.write_text(pattern.sub(rf'\g<1>"{args.date}"', text, count=1), encoding="utf-8")
    print(f"{path}: {DATE_KEY} {before} -> {args.date}")
    return 0


def bake_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BAKES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown bake {', '.join(unknown) or '(none)'}; allowed: {', '.join(BAKES)}"
        )
    return names


def utc_date(text: str) -> str:
    try:
        DEPENDENCIES.parse_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def absolute(text: str) -> Path:
    # cookiecutter runs with the output directory as its working directory.
    return Path(text).resolve()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="canary", description=__doc__.split("\n\n")[0])
    top.add_argument("--template", type=absolute, default=TEMPLATE_ROOT, help=argparse.SUPPRESS)
    commands = top.add_subparsers(dest="command", required=True)
    canary = commands.add_parser("run", help="bake, relock to the newest releases, make test")
    canary.add_argument("--bakes", type=bake_names, default=list(BAKES), metavar="A,B")
    canary.add_argument("--date", type=utc_date, default=None, help="resolve up to (default now)")
    canary.add_argument("--output", type=absolute, default=TEMPLATE_ROOT / "build" / "canary")
    canary.add_argument("--override", action="append", default=[], metavar="PKG==VERSION")
    canary.set_defaults(handler=run)
    move = commands.add_parser("move-date", help=f"set {DATE_KEY} in {COOKIECUTTER_JSON}")
    move.add_argument("date", type=utc_date)
    move.set_defaults(handler=move_date)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
