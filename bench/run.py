"""`make bench`: every measurement in one run, then bench/results.json and docs/benchmarks.md.

Usage: python bench/run.py [--quick] [--only NAME ...]. Each measurement module has
`measure(quick: bool) -> Measurement`; the report puts its figures in a table (with the command
that reproduces each) and draws its chart with matplotlib.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from project import TEMPLATE_ROOT, Measurement, progress
from report import write_markdown

MEASUREMENTS = (
    "bake_install",
    "suite_xdist",
    "history_overhead",
    "flaky_accuracy",
    "impact_faults",
    "perf_gate_accuracy",
)
RESULTS = TEMPLATE_ROOT / "bench" / "results.json"


def machine() -> dict[str, object]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=TEMPLATE_ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0)),
        "commit": commit or None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced version, under 5 minutes")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=MEASUREMENTS,
        metavar="NAME",
        help=f"run only these ({', '.join(MEASUREMENTS)})",
    )
    parser.add_argument("--output", type=Path, default=TEMPLATE_ROOT / "docs" / "benchmarks.md")
    arguments = parser.parse_args(argv)
    results: list[Measurement] = []
    for name in arguments.only or MEASUREMENTS:
        progress(f"{name} ...")
        started = time.perf_counter()
        results.append(importlib.import_module(name).measure(arguments.quick))
        progress(f"{name} done in {time.perf_counter() - started:.0f} s")
    about = machine() | {"quick": arguments.quick}
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    results_path = (
        RESULTS
        if arguments.output.parent == TEMPLATE_ROOT / "docs"
        else (arguments.output.with_suffix(".json"))
    )
    results_path.write_text(
        json.dumps({"machine": about, "measurements": [asdict(m) for m in results]}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    write_markdown(arguments.output, results, about)
    progress(f"wrote {arguments.output} and {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
