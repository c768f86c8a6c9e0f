"""Perf gate at scale: false alarms over hundreds of null decisions, with and without a CPU hog,
and detections of +5 / +10 / +20 / +50 % search slowdowns, each over hundreds of decisions.

Real end-to-end perf-ab runs cost about a minute each, so the large counts come from
resampling real pairs (the issue allows it, if real runs confirm the rates):

1. Pools (real). In one default bake in its own git repository, `make perf-ab BASE=HEAD` with
   `--pairs N --max-pairs N` (no early stop) per condition: unchanged code; unchanged code with
   a CPU hog on one core for the whole run; the search endpoint sleeping 5, 10, 20 and 50 % of
   the search median (the median of the unchanged pool's rounds, so "+10 %" means the same on
   a fast or a slow machine). Every pair (base and candidate loaded at the same time) is kept
   in CHECKPOINT; conditions are interleaved batch by batch, so slow spells of the machine
   fall on all of them; BENCH_RESUME=1 continues from the checkpoint (only what it lacks).
2. Decisions (resampled). bench/perf_gate_resample.py, run by the bake's Python, takes a pool's
   pairs in a random order (without replacement) and applies the gate's own sequential rule
   (testkit.perf.gate.compare_pairs: --pairs 6, one more while undecided, up to 30) at the
   bake's limits and at tighter p50 limits.
3. Calibration (real). Calibrations idle and under a hog, interleaved: how often
   testkit.perf.calibration.compare_machines calls a hogged machine the same as an idle one
   (the baseline gate would then compare rounds across machine states) and an idle one
   different from itself.

The confirming real end-to-end rates are bench/perf_gate_accuracy.py's (20 runs a case).
Usage: python bench/perf_gate_scale.py [--pairs 30] [--batches 2] [--decisions 300].
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from perf_gate_accuracy import make, perf_project, slowdown
from project import TEMPLATE_ROOT, Figure, Measurement, edited, progress

CHECKPOINT = TEMPLATE_ROOT / "bench" / "checkpoints" / "perf_pairs.json"
RESAMPLE = TEMPLATE_ROOT / "bench" / "perf_gate_resample.py"
ROUND_ARGS = "--round-seconds 5"
CONDITIONS: dict[str, tuple[float, bool]] = {  # name: (share of the search median, hog)
    "unchanged": (0.0, False),
    "unchanged, CPU hog": (0.0, True),
    "+5%": (0.05, False),
    "+10%": (0.10, False),
    "+20%": (0.20, False),
    "+50%": (0.50, False),
}
SEARCH = "GET /search"


@contextlib.contextmanager
def cpu_hog(active: bool = True) -> Iterator[None]:
    if not active:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def load_pools() -> dict[str, Any]:
    if CHECKPOINT.is_file():
        data: dict[str, Any] = json.loads(CHECKPOINT.read_text(encoding="utf-8"))
        return data
    return {"pools": {}, "sleep_ms": {}}


def save_pools(data: dict[str, Any]) -> None:
    CHECKPOINT.parent.mkdir(parents=True, exist_ok=True)
    CHECKPOINT.write_text(json.dumps(data) + "\n", encoding="utf-8")


def search_median_ms(pairs: list[dict[str, Any]]) -> float:
    values = [
        side["endpoints"][SEARCH]["p50_ms"]
        for pair in pairs
        for side in (pair["base"], pair["candidate"])
        if side["endpoints"].get(SEARCH, {}).get("p50_ms")
    ]
    return statistics.median(values)


def batch(project: Path, data: dict[str, Any], name: str, pairs: int) -> None:
    share, hog = CONDITIONS[name]
    reference = search_median_ms(data["pools"].get("unchanged", [])) if share else 0.0
    sleep_s = share * reference / 1000
    arguments = f"PERF_ARGS={ROUND_ARGS} --pairs {pairs} --max-pairs {pairs}"
    (project / "reports" / "perf-ab.json").unlink(missing_ok=True)
    with edited(project, *slowdown(sleep_s)), cpu_hog(hog):
        result = make(project, "perf-ab", "BASE=HEAD", arguments)
    try:
        report = json.loads((project / "reports" / "perf-ab.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RuntimeError(f"perf-ab ({name}) wrote no report:\n{result.stdout[-3000:]}") from None
    new = [
        {"base": b, "candidate": c}
        for b, c in zip(report["pairs"]["base"], report["pairs"]["candidate"], strict=True)
    ]
    data["pools"].setdefault(name, []).extend(new)
    data["sleep_ms"].setdefault(name, []).append(round(sleep_s * 1000, 3))
    progress(f"{name}: +{len(new)} pairs ({len(data['pools'][name])} in the pool)")


def calibrations(project: Path, count: int) -> dict[str, Any]:
    """``count`` calibrations idle and ``count`` under a hog, interleaved, judged by the bake's
    compare_machines against the idle ones taken before each (5 at a time, as a baseline)."""
    script = (
        "import json, sys\n"
        "from testkit.perf.calibration import calibrate\n"
        "print(json.dumps([calibrate().as_dict() for _ in range(int(sys.argv[1]))]))\n"
    )
    python = str(project / ".venv" / "bin" / "python")
    idle: list[dict[str, float]] = []
    hogged: list[dict[str, float]] = []
    step = 5
    for _ in range(0, count, step):
        idle += json.loads(subprocess.check_output([python, "-c", script, str(step)], text=True))
        with cpu_hog():
            hogged += json.loads(
                subprocess.check_output([python, "-c", script, str(step)], text=True)
            )
    return {"idle": idle, "hog": hogged}


def resample(project: Path, data: dict[str, Any], decisions: int) -> dict[str, Any]:
    done = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), str(RESAMPLE), str(decisions)],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        check=True,
        cwd=project,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(quick: bool, pairs: int = 30, batches: int = 2, decisions: int = 300) -> Measurement:
    project = perf_project(quick)
    data = load_pools() if os.environ.get("BENCH_RESUME") == "1" else {"pools": {}, "sleep_ms": {}}
    if quick:  # the machinery only: a few decisions from the committed unchanged pool (the real
        # perf-ab runs that fill a pool are perf_gate_accuracy's), a few calibrations
        committed = load_pools()
        data = {"pools": {"unchanged": committed["pools"]["unchanged"]}, "sleep_ms": {}}
        data["calibration"] = calibrations(project, 10)
        decisions = 10
    else:  # resumed: only what the checkpoint lacks
        for _ in range(batches):
            for name in CONDITIONS:
                if len(data["pools"].get(name, [])) < pairs * batches:
                    batch(project, data, name, pairs)
                    save_pools(data)
        if "calibration" not in data:
            data["calibration"] = calibrations(project, 300)
            save_pools(data)
    figures = resample(project, data, decisions)
    command = "python bench/perf_gate_scale.py"
    return Measurement(
        key="perf_gate_scale",
        title="Perf gate at scale: resampled perf-ab decisions, calibration against a CPU hog",
        figures=[Figure(row["label"], row["values"], command) for row in figures["rows"]],
        notes=figures["notes"],
        headline=figures["headline"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=30, help="pairs per perf-ab batch")
    parser.add_argument("--batches", type=int, default=2, help="batches per condition")
    parser.add_argument(
        "--decisions", type=int, default=300, help="resampled decisions per null pool"
    )
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    measurement = measure(arguments.quick, arguments.pairs, arguments.batches, arguments.decisions)
    for figure in measurement.figures:
        print(figure.label, json.dumps(figure.values))
    print(measurement.headline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
