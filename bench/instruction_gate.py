"""Instruction-count gate accuracy: false alarms on unchanged code, detection of a +3% change.

In one default bake (its own git repository, so the gate can check BASE=HEAD out beside it):

- null decisions, unchanged code (`runs`, 100 by default): `runs` + 1 counts of the working
  tree, each by a new callgrind run with an environment variable of seeded random length
  (0-4 KiB) that moves the memory layout as another machine's or CI's environment would. Each
  run is the gate (`testkit perf instructions --baseline-file`) judging its count against the
  previous run's, so every decision compares two independent counts (each count takes part in
  two decisions). A non-zero exit is a false alarm.
- null runs of the full BASE flow (`base_runs`, 5): `--base HEAD` on the unchanged tree, both
  revisions counted afresh, the base in a new temporary worktree; and as many with an unrelated
  change: the working tree's search_query.py also builds a list of a random 0-5,000 strings
  when imported, code no benchmark runs (other code moves where the hot paths' objects land in
  memory, which moves their counts a little). The gate must pass.
- detections (`detections`, 3 per function): `--base HEAD` after a loop of N iterations is put
  at the top of one hot function (normalise_query, question_to_query, check_citations), N sized
  so that its benchmark costs +3% instructions per call: calibration runs against a recorded
  baseline (two first guesses, then the secant until within 0.1 point of 3%). Detected: exit 1
  naming that benchmark. The loop counts from 1,000, so every iteration allocates an int and
  costs the same: the cost is a straight line in N.

Wall times are of the runs above: one revision (null decisions) or two side by side (BASE).
Each run is the bake's own `testkit perf instructions` (what `make perf-instructions` runs). The
full bench runs at the lowest CPU priority (nice 19; the quick run does not): counts do not
depend on it, other jobs on the machine do.
Every run's outcome is kept in build/bench/instructions/journal.jsonl: BENCH_RESUME=1 continues
a stopped run from there (the same seed, so the same runs). Standalone: python
bench/instruction_gate.py [--runs 100] [--base-runs 5] [--detections 3] [--project DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from project import (
    WORK_DIR,
    Edit,
    Figure,
    Measurement,
    bake_default,
    clean_env,
    commit_all,
    edited,
    installed_default_project,
    progress,
    run,
)

TARGET_PCT = 3.0
LIMIT_PCT = 2.0  # the bake's perf_instructions_pct
SEED = 18
COMMAND = "python bench/instruction_gate.py"
REPORT = "reports/perf-instructions.json"
BASELINE = "perf/baselines/instructions.json"
SERVICE = "services/api/src/acme_knowledge_base"
UNRELATED = Edit(
    f"{SERVICE}/search_query.py", "class InvalidQueryError(", "{}class InvalidQueryError("
)


@dataclass(frozen=True)
class Target:
    """A hot function: where the padding loop goes (before `anchor`, its first statement after
    the docstring) and the benchmark that measures it."""

    benchmark: str
    path: str
    anchor: str

    def padded(self, iterations: int) -> Edit:
        padding = f"    for _ in range(1_000, {1_000 + iterations}):\n        pass\n"
        return Edit(self.path, self.anchor, padding + self.anchor)


TARGETS = (
    Target(
        "normalise_query",
        f"{SERVICE}/search_query.py",
        "    if not 1 <= limit <= MAX_RESULT_LIMIT:\n",
    ),
    Target(
        "question_to_query",
        f"{SERVICE}/retrieval.py",
        "    words = list(dict.fromkeys(word.casefold() for word in _WORD.findall(question)))\n",
    ),
    Target(
        "check_citations",
        f"{SERVICE}/citations.py",
        "    allowed = {str(document_id): document_id for document_id in retrieved}\n",
    ),
)


@dataclass
class Runs:
    """What repeated gate runs of one case gave."""

    exits: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    # Per run: benchmark -> change %, and the benchmarks it called regressions.
    changes: list[dict[str, float]] = field(default_factory=list)
    regressed: list[list[str]] = field(default_factory=list)
    # Per run: benchmark -> instructions per call of the working tree.
    current: list[dict[str, float]] = field(default_factory=list)


def instruction_project(quick: bool) -> Path:
    """A bake of its own (the injected code must not meet other measurements' edits), in its
    own git repository; reused when present. QUICK uses the shared benchmark bake."""
    project = WORK_DIR / "instructions" / "acme-knowledge-base"
    if quick:
        project = installed_default_project()
    elif not (project / ".venv" / ".installed").is_file():
        shutil.rmtree(WORK_DIR / "instructions", ignore_errors=True)
        project = bake_default(WORK_DIR / "instructions")
        run(["make", "install"], cwd=project)
    if not (project / ".git").is_dir():
        commit_all(project)
    return project


class Journal:
    """Every gate run's outcome, one JSON line each, so a long run stopped half-way continues
    where it stopped (BENCH_RESUME=1): the runs it has are read back, not run again."""

    def __init__(self, path: Path | None, resume: bool) -> None:
        self.path = path
        self.done: dict[str, tuple[int, float, dict[str, Any]]] = {}
        if path is None:
            return
        if resume and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                self.done[entry["key"]] = (entry["code"], entry["seconds"], entry["report"])
            progress(f"resuming: {len(self.done)} runs from {path}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def add(self, key: str, outcome: tuple[int, float, dict[str, Any]]) -> None:
        self.done[key] = outcome
        if self.path is not None:
            code, seconds, report = outcome
            entry = {"key": key, "code": code, "seconds": seconds, "report": report}
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(entry) + "\n")


JOURNAL = Journal(None, resume=False)
# The full run yields to other jobs (counts do not depend on CPU time); QUICK, run inside the
# template's suite beside the other worker, does not, or it would wait for that worker.
PRIORITY: list[str] = []


def journaled(
    key: str, project: Path, *arguments: str, pad: int
) -> tuple[int, float, dict[str, Any]]:
    """One gate run, or its outcome from the journal when a resumed run already has it."""
    if key not in JOURNAL.done:
        JOURNAL.add(key, gate(project, *arguments, pad=pad))
    return JOURNAL.done[key]


def gate(project: Path, *arguments: str, pad: int) -> tuple[int, float, dict[str, Any]]:
    """(exit code, seconds, the JSON report) of one instructions command: the gate may pass (0)
    or fail (1); the baseline command must succeed and writes no report."""
    (project / REPORT).unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [*PRIORITY, str(project / ".venv/bin/testkit"), "perf", *arguments],
        cwd=project,
        env=clean_env(BENCH_LAYOUT_PAD="x" * pad),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    seconds = time.perf_counter() - started
    expected = (0,) if arguments[0] == "instructions-baseline" else (0, 1)
    if done.returncode not in expected:
        tail = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(arguments)} exited {done.returncode}:\n{tail}")
    report = json.loads((project / REPORT).read_text()) if (project / REPORT).is_file() else {}
    return done.returncode, seconds, report


def change_of(report: dict[str, Any], benchmark: str) -> float:
    return float(next(r for r in report["benchmarks"] if r["name"] == benchmark)["change_pct"])


def repeated(
    project: Path,
    count: int,
    rng: random.Random,
    label: str,
    key: str,
    edits: Sequence[Edit] = (),
    unrelated: bool = False,
) -> Runs:
    """`count` runs of the gate against BASE=HEAD with `edits` in the working tree; with
    `unrelated`, each run also gets its own unrelated change."""
    runs = Runs()
    for index in range(count):
        extra = []
        if unrelated:
            strings = rng.randrange(5_001)
            line = f"_UNRELATED = [str(i) * (i % 7) for i in range({strings})]\n\n\n"
            extra = [Edit(UNRELATED.path, UNRELATED.original, UNRELATED.mutated.format(line))]
        pad = rng.randrange(4_097)
        with edited(project, *edits, *extra):
            code, seconds, report = journaled(
                f"{key}/{index}", project, "instructions", "--base", "HEAD", pad=pad
            )
        note(runs, code, seconds, report, f"{label} {index + 1}/{count}")
    return runs


def note(runs: Runs, code: int, seconds: float, report: dict[str, Any], label: str) -> None:
    rows = report["benchmarks"]
    runs.exits.append(code)
    runs.seconds.append(seconds)
    runs.changes.append({r["name"]: r["change_pct"] for r in rows if r["change_pct"] is not None})
    runs.regressed.append([r["name"] for r in rows if r["verdict"] == "REGRESSION"])
    runs.current.append({r["name"]: r["current"] for r in rows if r["current"] is not None})
    worst = max(runs.changes[-1].items(), key=lambda item: abs(item[1]))
    progress(f"{label}: exit {code} in {seconds:.0f} s, largest change {worst[0]} {worst[1]:+.3f}%")


def chained(project: Path, count: int, rng: random.Random) -> Runs:
    """`count` null decisions from `count` + 1 counts of the unchanged working tree: each run
    judges its count against the previous run's (written as a baseline file)."""
    runs = Runs()
    with tempfile.TemporaryDirectory(prefix="instruction-null-") as scratch:
        previous = str(Path(scratch) / "previous.json")
        pad = rng.randrange(4_097)
        if "null/first" not in JOURNAL.done:
            _, seconds, _ = gate(
                project, "instructions-baseline", "--baseline-file", previous, pad=pad
            )
            JOURNAL.add("null/first", (0, seconds, json.loads(Path(previous).read_text())))
        first = JOURNAL.done["null/first"][2]
        Path(previous).write_text(json.dumps(first))
        # The first count takes part in the spread too (its decision is the first run's).
        runs.current.append(
            {name: row["instructions_per_call"] for name, row in first["benchmarks"].items()}
        )
        for index in range(count):
            pad = rng.randrange(4_097)
            code, seconds, report = journaled(
                f"null/{index}", project, "instructions", "--baseline-file", previous, pad=pad
            )
            note(runs, code, seconds, report, f"null {index + 1}/{count}")
            recorded = {key: report[key] for key in ("environment", "iterations")}
            Path(previous).write_text(json.dumps({**recorded, "benchmarks": report["current"]}))
    return runs


def first_guess(per_call: float, share: float) -> int:
    """Padding iterations for `share` more instructions per call. Measured on CPython 3.11:
    about 200 instructions per iteration of `for _ in range(1_000, ...)`, plus some 800 for
    setting the loop up."""
    return max(2, round((per_call * share - 800) / 200))


def calibrate(project: Path, target: Target, rng: random.Random) -> int:
    """The padding iterations that make `target`'s benchmark cost +3% per call, against the
    recorded baseline: first guesses at 2% and 4%, then the secant through the two nearest
    points until a run lands within 0.1 point of 3% (at most four runs)."""
    baseline = json.loads((project / BASELINE).read_text())
    per_call = baseline["benchmarks"][target.benchmark]["instructions_per_call"]
    points: list[tuple[int, float]] = []
    tries = [first_guess(per_call, 0.02), first_guess(per_call, 0.04)]
    while tries and len(points) < 4:
        iterations = tries.pop(0)
        pad = rng.randrange(4_097)
        with edited(project, target.padded(iterations)):
            _, _, report = journaled(
                f"calibrate/{target.benchmark}/{iterations}", project, "instructions", pad=pad
            )
        points.append((iterations, change_of(report, target.benchmark)))
        if abs(points[-1][1] - TARGET_PCT) <= 0.1:
            break
        if not tries and len(points) >= 2:
            (n1, c1), (n2, c2) = sorted(points, key=lambda p: abs(p[1] - TARGET_PCT))[:2]
            sized = max(1, round(n1 + (TARGET_PCT - c1) * (n2 - n1) / (c2 - c1)))
            if sized not in (n for n, _ in points):
                tries.append(sized)
    iterations, change = min(points, key=lambda p: abs(p[1] - TARGET_PCT))
    progress(f"calibrated {target.benchmark}: {points} -> {iterations} ({change:+.3f}%)")
    return iterations


def null_figures(label: str, null: Runs, per_benchmark: bool) -> list[Figure]:
    largest = max(abs(change) for changes in null.changes for change in changes.values())
    figures = [
        Figure(
            label,
            {
                "runs": len(null.exits),
                "false_alarms": sum(code != 0 for code in null.exits),
                "change_pct": round(largest, 3),
                "median_s": round(statistics.median(null.seconds)),
                "max_s": round(max(null.seconds)),
            },
            COMMAND,
        )
    ]
    if not per_benchmark:
        return figures
    for name in null.current[0]:
        counts = [run[name] for run in null.current]
        middle = statistics.median(counts)
        figures.append(
            Figure(
                f"null: {name}",
                {
                    "instructions_per_call": round(middle, 1),
                    "run_to_run_spread_pct": round((max(counts) - min(counts)) / middle * 100, 3),
                    "change_pct": round(max(abs(run[name]) for run in null.changes), 3),
                },
                COMMAND,
            )
        )
    return figures


def detection_figure(target: Target, iterations: int, runs: Runs) -> Figure:
    changes = [run[target.benchmark] for run in runs.changes]
    outcomes = zip(runs.exits, runs.regressed, strict=True)
    named = sum(code == 1 and target.benchmark in regressed for code, regressed in outcomes)
    others = sum(any(name != target.benchmark for name in r) for r in runs.regressed)
    return Figure(
        f"+{TARGET_PCT:g}% in {target.benchmark}",
        {
            "runs": len(runs.exits),
            "detected": named,
            "change_pct": round(statistics.median(changes), 3),
            "min_change_pct": round(min(changes), 3),
            "padding_iterations": iterations,
            "others_flagged": others,
            "median_s": round(statistics.median(runs.seconds)),
        },
        COMMAND,
    )


def accuracy(
    project: Path,
    *,
    runs: int,
    base_runs: int,
    detections: int,
    targets: Sequence[Target],
    quick: bool = False,
) -> list[Figure]:
    """QUICK sizes the padding from the first guess instead of calibrating it."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind is not installed: apt-get install valgrind")
    global JOURNAL, PRIORITY
    PRIORITY = [] if quick else ["nice", "-n", "19"]
    # QUICK keeps no journal: it runs once and fast.
    resume = os.environ.get("BENCH_RESUME") == "1"
    JOURNAL = Journal(None if quick else WORK_DIR / "instructions" / "journal.jsonl", resume)
    rng = random.Random(SEED)
    null = chained(project, runs, rng)
    figures = null_figures("unchanged code, consecutive counts (null decisions)", null, True)
    if base_runs:
        flow = repeated(project, base_runs, rng, "BASE=HEAD null", "base-null")
        figures += null_figures("BASE=HEAD, unchanged code (null runs)", flow, False)
        other = repeated(
            project, base_runs, rng, "BASE=HEAD unrelated change", "unrelated", unrelated=True
        )
        figures += null_figures("BASE=HEAD, unrelated change (null runs)", other, False)
    if not quick:
        gate(project, "instructions-baseline", pad=rng.randrange(4_097))
    for target in targets:
        if quick:
            iterations = first_guess(null.current[0][target.benchmark], TARGET_PCT / 100)
        else:
            iterations = calibrate(project, target, rng)
        caught = repeated(
            project,
            detections,
            rng,
            f"+3% {target.benchmark}",
            f"detect/{target.benchmark}/{iterations}",
            (target.padded(iterations),),
        )
        figures.append(detection_figure(target, iterations, caught))
    return figures


def headline(figures: list[Figure]) -> str:
    rows = {figure.label: figure.values for figure in figures}
    null = rows["unchanged code, consecutive counts (null decisions)"]
    flows = [
        f"{rows[label]['false_alarms']} in {rows[label]['runs']} BASE=HEAD runs {phrase}"
        for label, phrase in (
            ("BASE=HEAD, unchanged code (null runs)", "on unchanged code"),
            ("BASE=HEAD, unrelated change (null runs)", "with an unrelated change"),
        )
        if label in rows
    ]
    detected = [f for f in figures if f.label.startswith(f"+{TARGET_PCT:g}% in ")]
    caught = sum(int(f.values["detected"]) for f in detected)
    tried = sum(int(f.values["runs"]) for f in detected)
    largest = max(float(row["change_pct"]) for label, row in rows.items() if "null" in label)
    return (
        f"Instruction gate (limit {LIMIT_PCT:g}%): {null['false_alarms']} false alarms in "
        f"{null['runs']} null decisions on unchanged code"
        + "".join(f", {flow}" for flow in flows)
        + f" (largest change of any benchmark {largest}%); +{TARGET_PCT:g}% in a hot path "
        f"detected {caught}/{tried}; counting one revision takes {null['median_s']} s."
    )


def measure(quick: bool, project: Path | None = None) -> Measurement:
    # QUICK: one null decision and one detection (normalise_query, padding from the first
    # guess), to prove the machinery.
    runs, base_runs, detections = (1, 0, 1) if quick else (100, 5, 3)
    targets = TARGETS[:1] if quick else TARGETS
    figures = accuracy(
        project or instruction_project(quick),
        runs=runs,
        base_runs=base_runs,
        detections=detections,
        targets=targets,
        quick=quick,
    )
    return Measurement(
        "instruction_gate",
        "Instruction-count gate: false alarms, detection of +3%, time of a run",
        figures,
        notes=(
            f"`testkit perf instructions` in the default bake. Null decisions: {runs + 1} "
            "counts of the unchanged working tree, each a new callgrind run with an "
            "environment variable of random length (it moves the memory layout), each judged "
            f"against the previous one. BASE=HEAD rows: {base_runs} runs of the full flow "
            "(both revisions counted afresh, the base in a new worktree) on unchanged code, and "
            f"{base_runs} with an unrelated change (a module the benchmarks import builds a "
            "list of 0-5,000 strings). Detections: a loop at the top of a hot function sized to "
            f"+{TARGET_PCT:g}% of its benchmark's instructions per call "
            f"({'a first guess' if quick else 'calibrated against a baseline'}), {detections} "
            "BASE=HEAD runs each. `change_pct`: the largest |change| of any benchmark in any run "
            "(null rows) or the median change the gate measured (detection rows); the limit is "
            f"{LIMIT_PCT:g}%. `run_to_run_spread_pct`: (max - min) / median of a benchmark's "
            "instructions per call over the null counts. Times: wall seconds at nice 19 on a "
            "shared 2-core machine."
        ),
        chart=("change_pct", "% change in instructions per call"),
        headline=headline(figures),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="null decisions, unchanged code")
    parser.add_argument("--base-runs", type=int, default=5, help="BASE=HEAD null runs per case")
    parser.add_argument("--detections", type=int, default=3, help="runs per injected change")
    parser.add_argument("--project", type=Path, help="an installed bake in git (default: own)")
    arguments = parser.parse_args()
    figures = accuracy(
        arguments.project or instruction_project(False),
        runs=arguments.runs,
        base_runs=arguments.base_runs,
        detections=arguments.detections,
        targets=TARGETS,
    )
    for figure in figures:
        print(f"{figure.label}: " + ", ".join(f"{k} {v}" for k, v in figure.values.items()))
    print(headline(figures))
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).parent)
    sys.exit(main())
