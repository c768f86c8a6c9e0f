"""`make bench`: every measurement in one run, then bench/results.json and docs/benchmarks.md.

Usage: python bench/run.py [--quick] [--only NAME ... | --report]. Each measurement module has
`measure(quick: bool) -> Measurement`; the report puts its figures in a table (with the command
that reproduces each) and draws its chart with matplotlib.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from project import TEMPLATE_ROOT, Figure, Measurement, progress
from report import write_markdown

MEASUREMENTS = (
    "bake_install",
    "suite_speed",
    "plugin_overhead",
    "flaky_accuracy",
    "flaky_history",
    "polluter_pairs",
    "impact_faults",
    "impact_scale",
    "perf_gate_accuracy",
    "perf_gate_scale",
    "instruction_gate",
    "mutation_gate",
)
RESULTS = TEMPLATE_ROOT / "bench" / "results.json"


def machine() -> dict[str, object]:
    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments], cwd=TEMPLATE_ROOT, capture_output=True, text=True
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0)),
        "commit": commit or None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def load_previous(path: Path) -> dict[str, tuple[Measurement, dict[str, object]]]:
    """Measurements kept from an earlier run, by key, so `--only` refreshes just those."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            entry["key"]: (
                Measurement(
                    entry["key"],
                    entry["title"],
                    [Figure(**figure) for figure in entry["figures"]],
                    entry.get("notes", ""),
                    tuple(entry["chart"]) if entry.get("chart") else None,
                    entry.get("headline", ""),
                ),
                entry.get("measured", {}),
            )
            for entry in data["measurements"]
        }
    except (ValueError, KeyError, TypeError) as error:
        message = f"bench: {path} is not a bench results file ({error}); move it away"
        raise SystemExit(message) from None


def save(
    results_path: Path, output: Path, fresh: dict[str, tuple[Measurement, dict[str, object]]]
) -> None:
    """Merge `fresh` over the results already on disk (read now, so runs of different
    measurements side by side keep each other's), then write the JSON and the markdown."""
    merged = load_previous(results_path) | fresh
    ordered = [merged[name] for name in MEASUREMENTS if name in merged]
    output.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(
        json.dumps(
            {"measurements": [asdict(m) | {"measured": about} for m, about in ordered]}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    write_markdown(output, ordered)
    progress(f"wrote {output} and {results_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced version, under 5 minutes")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--only",
        nargs="+",
        choices=MEASUREMENTS,
        metavar="NAME",
        help=f"run only these ({', '.join(MEASUREMENTS)}); the others are kept from the last run",
    )
    choice.add_argument(
        "--report", action="store_true", help="measure nothing: rewrite the markdown from the JSON"
    )
    parser.add_argument("--output", type=Path, default=TEMPLATE_ROOT / "docs" / "benchmarks.md")
    arguments = parser.parse_args(argv)
    # Stopped with SIGTERM (background jobs ignore SIGINT): unwind, so every edit a measurement
    # made to a bake (an injected fault, a slowdown) is put back by its `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results_path = (
        RESULTS
        if arguments.output.parent == TEMPLATE_ROOT / "docs"
        else arguments.output.with_suffix(".json")
    )
    if not arguments.only and not arguments.report:
        results_path.unlink(missing_ok=True)  # a full run replaces every figure
    fresh: dict[str, tuple[Measurement, dict[str, object]]] = {}
    for name in [] if arguments.report else arguments.only or MEASUREMENTS:
        progress(f"{name} ...")
        started = time.perf_counter()
        measurement = importlib.import_module(name).measure(arguments.quick)
        seconds = round(time.perf_counter() - started)
        fresh[name] = (measurement, machine() | {"quick": arguments.quick, "seconds": seconds})
        progress(f"{name} done in {seconds} s")
        save(results_path, arguments.output, fresh)  # after each: a long run stopped keeps some
    if arguments.report:
        save(results_path, arguments.output, fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
