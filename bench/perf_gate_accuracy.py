"""Perf gate accuracy: false alarms on unchanged code, detections of injected slowdowns.

In one default bake (its own git repository, so perf-ab can build BASE=HEAD), after one
`make perf-baseline`: N runs each of
- performance-gate and perf-ab on unchanged code (a non-zero exit is a false alarm);
- both with the search endpoint slowed by +50% (detected: exit 1 naming GET /search);
- both with +20% (the SPEC's target for this one is perf-ab's).
The slowdown is proportional: a sleep of that share of the baseline's search median, so "+50%"
means the same on a fast or a slow machine. Usage: python bench/perf_gate_accuracy.py --runs 20
(the SPEC's figure) or --runs 3 for a quick look; --project reuses an installed bake.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from project import (
    REAL_SERVICES,
    WORK_DIR,
    Figure,
    Measurement,
    bake_default,
    clean_env,
    progress,
    run,
)

SEARCH = "services/api/src/acme_knowledge_base/routers/search.py"
ENDPOINT = "GET /search p50_ms"
# Short rounds keep a run near a minute; the gate's own defaults are longer.
ROUND_ARGS = "--round-seconds 5"
SLOWDOWNS = (0.0, 0.5, 0.2)


@dataclass
class Tally:
    runs: int = 0
    failed: int = 0  # exit 1 (a regression verdict)
    named_search: int = 0  # ... and GET /search among the regressions
    inconclusive: int = 0
    errors: int = 0  # anything else (the command itself broke)
    seconds: list[float] = field(default_factory=list)


def perf_project() -> Path:
    """A default bake, installed and committed (reused when present)."""
    project = WORK_DIR / "perf" / "acme-knowledge-base"
    if not (project / ".venv" / ".installed").is_file():
        shutil.rmtree(WORK_DIR / "perf", ignore_errors=True)
        project = bake_default(WORK_DIR / "perf")
        run(["make", "install"], cwd=project)
    if not (project / ".git").is_dir():
        git = [
            "git",
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "-c",
            "commit.gpgsign=false",
        ]
        for command in (["init", "-q"], ["add", "--all"], ["commit", "-q", "-m", "bench"]):
            run([*git, *command], cwd=project)
    return project


def make(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", *arguments],
        cwd=project,
        env=clean_env(**REAL_SERVICES),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1800,
        check=False,
    )


@contextmanager
def slowed_search(project: Path, seconds: float) -> Iterator[None]:
    path = project / SEARCH
    source = path.read_text(encoding="utf-8")
    if seconds > 0:
        mutated = source.replace(
            "from typing import Annotated\n", "import asyncio\nfrom typing import Annotated\n", 1
        ).replace(
            "    try:\n        query = normalise_query(q, limit=limit)\n",
            f"    await asyncio.sleep({seconds:.6f})\n"
            "    try:\n        query = normalise_query(q, limit=limit)\n",
            1,
        )
        if mutated.count("asyncio.sleep") != 1:
            raise RuntimeError(f"the slowdown no longer applies to {path}")
        path.write_text(mutated, encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(source, encoding="utf-8")


def one(project: Path, tally: Tally, target: str, report: str, *arguments: str) -> None:
    started = time.perf_counter()
    result = make(project, target, *arguments)
    tally.seconds.append(time.perf_counter() - started)
    tally.runs += 1
    try:
        data = json.loads((project / "reports" / report).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    # make exits 2 when a recipe fails and prints the recipe's code: testkit's 1 is a verdict.
    if (
        result.returncode != 0
        and "Error 1" in result.stdout
        and data.get("verdict") == "REGRESSION"
    ):
        tally.failed += 1
        tally.named_search += ENDPOINT in data.get("regressions", [])
    elif result.returncode == 0:
        tally.inconclusive += data.get("verdict") == "INCONCLUSIVE"
    else:
        tally.errors += 1
        progress(f"{target} broke (exit {result.returncode}):\n{result.stdout[-2000:]}")


def accuracy(project: Path, runs: int) -> dict[str, Tally]:
    baseline = make(project, "perf-baseline", f"PERF_ARGS={ROUND_ARGS} --rounds 5")
    if baseline.returncode != 0:
        raise RuntimeError(f"perf-baseline failed:\n{baseline.stdout[-3000:]}")
    recorded = json.loads((project / "perf/baselines/smoke.json").read_text(encoding="utf-8"))
    median_ms = recorded["endpoints"]["GET /search"]["p50_ms"]
    progress(f"baseline search median {median_ms:.2f} ms")
    tallies: dict[str, Tally] = {}
    for index in range(runs):
        for share in SLOWDOWNS:
            label = "unchanged" if share == 0 else f"+{share:.0%}"
            with slowed_search(project, share * median_ms / 1000):
                gate = tallies.setdefault(f"performance-gate {label}", Tally())
                one(project, gate, "performance-gate", "performance-gate.json")
                ab = tallies.setdefault(f"perf-ab {label}", Tally())
                one(project, ab, "perf-ab", "perf-ab.json", "BASE=HEAD", f"PERF_ARGS={ROUND_ARGS}")
        progress(
            f"run {index + 1}/{runs}: "
            + "; ".join(f"{name} {t.failed}/{t.runs}" for name, t in tallies.items())
        )
    return tallies


def measure(quick: bool, project: Path | None = None, runs: int | None = None) -> Measurement:
    count = runs or (3 if quick else 20)
    tallies = accuracy(project or perf_project(), count)
    figures = [
        Figure(
            name,
            {
                "runs": t.runs,
                "failed": t.failed,
                "named_search": t.named_search,
                "inconclusive": t.inconclusive,
                "errors": t.errors,
                "median_s": round(sorted(t.seconds)[len(t.seconds) // 2], 1) if t.seconds else 0,
            },
            f"python bench/perf_gate_accuracy.py --runs {count}",
        )
        for name, t in tallies.items()
    ]
    return Measurement(
        "perf_gate_accuracy",
        "Perf gate: false alarms on unchanged code, detections of +50% / +20% search slowdowns",
        figures,
        notes=(
            "`failed` on unchanged rows are false alarms (targets: at most 1 in 20); on slowed "
            "rows they are detections (targets: at least 19 in 20 for +50%, and for +20% with "
            "perf-ab). Smoke profile, 5 s rounds, 5 baseline rounds, gate up to 9 rounds, "
            "perf-ab 6 pairs up to 10."
        ),
        chart=("failed", "runs"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--project", type=Path, help="an installed bake (default: bench's own)")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    arguments = parser.parse_args()
    tallies = accuracy(arguments.project or perf_project(), arguments.runs)
    for name, tally in tallies.items():
        print(
            f"{name}: {tally.failed}/{tally.runs} failed ({tally.named_search} naming search), "
            f"{tally.inconclusive} inconclusive, {tally.errors} errors, "
            f"median {sorted(tally.seconds)[len(tally.seconds) // 2]:.0f} s"
        )
    if arguments.json:
        arguments.json.write_text(
            json.dumps({name: vars(t) for name, t in tallies.items()}, indent=2) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).parent)
    raise SystemExit(main())
