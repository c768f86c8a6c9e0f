"""Perf gate accuracy: false alarms on unchanged code, detections of injected slowdowns.

In one default bake (its own git repository, so perf-ab can build BASE=HEAD), after one
`make perf-baseline`: N runs each of
- performance-gate and perf-ab on unchanged code (a non-zero exit is a false alarm);
- both with the search endpoint slowed by +50% (detected: exit 1 naming GET /search);
- perf-ab with +20% and +15% (the issue's target for +20% is perf-ab's; the baseline gate
  compares with rounds recorded earlier and is not asked to resolve it). Under load a sleep
  costs more than its length (the event loop is busy when it ends): perf-ab measures the +15%
  sleep as a change of about +20%, so that row is the one the +20% target is read from.
The slowdown is proportional: a sleep of that share of the search median the same command
measured on unchanged code (the baseline's for the gate, perf-ab's base rounds' for perf-ab),
so "+20%" means the same on a fast or a slow machine. Usage: python bench/perf_gate_accuracy.py
--runs 20 (the SPEC's figure) or --runs 3 for a quick look; --project reuses an installed bake.

Twenty rounds of five commands take about two hours, so the tallies are saved after every
round (CHECKPOINT, tracked in git) and BENCH_RESUME=1 (or --resume) continues from them until
every case has its runs: against the same baseline when the bake still has it, else against a
baseline it records first. BENCH_PERF_RUNS=N sets the runs per case (20).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from project import (
    REAL_SERVICES,
    TEMPLATE_ROOT,
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

SEARCH = "services/api/src/acme_knowledge_base/routers/search.py"
TARGET_RUNS = 20  # per case: the figure
SEARCH_BODY = "    try:\n        query = normalise_query(q, limit=limit)\n"
# Tracked in git, so a run spread over several sittings (or machines' sessions) can continue.
CHECKPOINT = TEMPLATE_ROOT / "bench" / "checkpoints" / "perf_gate_accuracy.json"
ENDPOINT = "GET /search p50_ms"
# Short rounds keep a run near a minute; the gate's own defaults are longer.
ROUND_ARGS = "--round-seconds 5"
BASELINE_ARGS = f"{ROUND_ARGS} --rounds 5"
# (command, its report, extra make arguments, the slowdowns it is measured on)
CASES = (
    ("performance-gate", "performance-gate.json", (), (0.0, 0.5)),
    ("perf-ab", "perf-ab.json", ("BASE=HEAD", f"PERF_ARGS={ROUND_ARGS}"), (0.0, 0.5, 0.2, 0.15)),
)
# QUICK=1 only proves the machinery: one gate run on unchanged code, one perf-ab on +50%.
# Bounded: 2 s rounds are noisy, and perf-ab may otherwise use up to 30 pairs.
QUICK_ROUND_ARGS = "--round-seconds 2"
QUICK_BASELINE_ARGS = f"{QUICK_ROUND_ARGS} --rounds 4"
QUICK_AB_ARGS = f"PERF_ARGS={QUICK_ROUND_ARGS} --pairs 5 --max-pairs 8"
QUICK_CASES = (
    ("performance-gate", "performance-gate.json", (), (0.0,)),
    ("perf-ab", "perf-ab.json", ("BASE=HEAD", QUICK_AB_ARGS), (0.5,)),
)


@dataclass
class Tally:
    runs: int = 0
    failed: int = 0  # exit 1 (a regression verdict)
    named_search: int = 0  # ... and GET /search among the regressions
    inconclusive: int = 0
    errors: int = 0  # anything else (the command itself broke)
    regressions: list[list[str]] = field(default_factory=list)  # what each failed run named
    seconds: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)  # rounds (gate) or pairs (perf-ab) each used
    # The search median each run measured on its unchanged side (the baseline's, or perf-ab's
    # base rounds'), and the sleep each run injected.
    search_p50_ms: list[float] = field(default_factory=list)
    sleep_ms: list[float] = field(default_factory=list)
    # perf-ab: the standard deviation, over one run's pairs, of log(candidate / base) of the
    # search median: the pair-to-pair noise the gate's statistics have to see through.
    pair_sd: list[float] = field(default_factory=list)
    # The change of the search median each run measured (the table's change column): what an
    # injected sleep amounts to once the server is under load.
    search_change_pct: list[float] = field(default_factory=list)


def perf_project(quick: bool = False) -> Path:
    """A bake of its own (other measurements may edit theirs alongside), in its own git
    repository so perf-ab can build BASE=HEAD; reused when present. QUICK, where measurements
    run one after another, uses the shared benchmark bake."""
    project = WORK_DIR / "perf" / "acme-knowledge-base"
    if quick:
        project = installed_default_project()
    elif not (project / ".venv" / ".installed").is_file():
        shutil.rmtree(WORK_DIR / "perf", ignore_errors=True)
        project = bake_default(WORK_DIR / "perf")
        run(["make", "install"], cwd=project)
    if not (project / ".git").is_dir():
        commit_all(project)
    return project


def save_checkpoint(tallies: dict[str, Tally]) -> None:
    CHECKPOINT.parent.mkdir(parents=True, exist_ok=True)
    data = {name: asdict(tally) for name, tally in tallies.items()}
    CHECKPOINT.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_checkpoint() -> dict[str, Tally]:
    try:
        data = json.loads(CHECKPOINT.read_text(encoding="utf-8"))
        return {name: Tally(**values) for name, values in data.items()}
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise SystemExit(f"cannot resume from {CHECKPOINT}: {error}") from None


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


def slowdown(seconds: float) -> tuple[Edit, ...]:
    """The search endpoint sleeping `seconds` before its work (nothing for 0)."""
    if seconds <= 0:
        return ()
    return (
        Edit(
            SEARCH,
            "from typing import Annotated\n",
            "import asyncio\nfrom typing import Annotated\n",
        ),
        Edit(SEARCH, SEARCH_BODY, f"    await asyncio.sleep({seconds:.6f})\n" + SEARCH_BODY),
    )


def one(
    project: Path, tally: Tally, sleep_s: float, target: str, report: str, *arguments: str
) -> None:
    (project / "reports" / report).unlink(missing_ok=True)
    started = time.perf_counter()
    with edited(project, *slowdown(sleep_s)):
        result = make(project, target, *arguments)
    tally.seconds.append(time.perf_counter() - started)
    tally.runs += 1
    tally.sleep_ms.append(round(sleep_s * 1000, 3))
    try:
        data = json.loads((project / "reports" / report).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if "rounds" in data:
        tally.rounds.append(int(data["rounds"]["current"]))
    if noise := pair_noise(data.get("pairs", {})):
        tally.pair_sd.append(noise)
    for check in data.get("checks", []):
        if f"{check['scope']} {check['metric']}" == ENDPOINT and check["baseline"] is not None:
            tally.search_p50_ms.append(check["baseline"])
            tally.search_change_pct.append(check["change_pct"])
    # make exits 2 when a recipe fails and prints the recipe's code: testkit's 1 is a verdict.
    if (
        result.returncode != 0
        and "Error 1" in result.stdout
        and data.get("verdict") == "REGRESSION"
    ):
        tally.failed += 1
        tally.regressions.append(list(data.get("regressions", [])))
        tally.named_search += ENDPOINT in data.get("regressions", [])
    elif result.returncode == 0:
        tally.inconclusive += data.get("verdict") == "INCONCLUSIVE"
    else:
        tally.errors += 1
        progress(f"{target} broke (exit {result.returncode}):\n{result.stdout[-2000:]}")


def pair_noise(pairs: dict[str, list[dict[str, Any]]]) -> float | None:
    """The SD of the per-pair log-ratios of the search median (None under two pairs)."""
    ratios = [
        math.log(c["endpoints"]["GET /search"]["p50_ms"] / b["endpoints"]["GET /search"]["p50_ms"])
        for b, c in zip(pairs.get("base", []), pairs.get("candidate", []), strict=False)
        if b["endpoints"].get("GET /search", {}).get("p50_ms")
        and c["endpoints"].get("GET /search", {}).get("p50_ms")
    ]
    return round(statistics.stdev(ratios), 4) if len(ratios) >= 2 else None


def accuracy(
    project: Path, runs: int, *, quick: bool = False, resume: bool = False
) -> dict[str, Tally]:
    tallies = {}
    if resume:
        tallies = load_checkpoint()
        progress(f"resuming: {', '.join(f'{n} {t.runs} runs' for n, t in tallies.items())}")
    baseline_path = project / "perf/baselines/smoke.json"
    if not (resume and baseline_path.is_file()):  # a new sitting in a new bake records its own
        baseline_args = QUICK_BASELINE_ARGS if quick else BASELINE_ARGS
        baseline = make(project, "perf-baseline", f"PERF_ARGS={baseline_args}")
        if baseline.returncode != 0:
            raise RuntimeError(f"perf-baseline failed:\n{baseline.stdout[-3000:]}")
    recorded = json.loads(baseline_path.read_text(encoding="utf-8"))
    median_ms = recorded["endpoints"]["GET /search"]["p50_ms"]
    progress(f"baseline search median {median_ms:.2f} ms")
    cases = QUICK_CASES if quick else CASES
    for target, _, _, shares in cases:  # a case added since the checkpoint starts from zero
        for share in shares:
            tallies.setdefault(f"{target} {case_label(share)}", Tally())
    while min((t.runs for t in tallies.values()), default=0) < runs:
        for target, report, arguments, shares in cases:
            for share in shares:
                tally = tallies[f"{target} {case_label(share)}"]
                if tally.runs >= runs:
                    continue
                reference = reference_ms(tallies.get(f"{target} unchanged"), median_ms)
                one(project, tally, share * reference / 1000, target, report, *arguments)
        if not quick:
            save_checkpoint(tallies)
        progress("; ".join(f"{name} {t.failed}/{t.runs}" for name, t in tallies.items()))
    return tallies


def case_label(share: float) -> str:
    return "unchanged" if share == 0 else f"+{share:.0%}"


def reference_ms(unchanged: Tally | None, baseline_ms: float) -> float:
    """The search median a slowdown is a share of: the median of what the command itself
    measured on unchanged code (perf-ab's base rounds have measured search up to 1.6x slower
    than the gate's baseline rounds here), else the baseline's."""
    if unchanged is None or not unchanged.search_p50_ms:
        return baseline_ms
    return statistics.median(unchanged.search_p50_ms)


def measure(quick: bool, project: Path | None = None, runs: int | None = None) -> Measurement:
    # BENCH_PERF_RUNS: fewer runs per case (with BENCH_RESUME=1, the tallies reached so far).
    count = runs or (1 if quick else int(os.environ.get("BENCH_PERF_RUNS") or TARGET_RUNS))
    resume = not quick and os.environ.get("BENCH_RESUME") == "1"
    tallies = accuracy(project or perf_project(quick), count, quick=quick, resume=resume)
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
                # Older tallies did not record how many rounds or pairs each run took.
                **({"most_rounds": max(t.rounds)} if t.rounds else {}),
                **({"sleep_ms": statistics.median(t.sleep_ms)} if any(t.sleep_ms) else {}),
                **({"pair_sd": round(statistics.median(t.pair_sd), 3)} if t.pair_sd else {}),
                **(
                    {"change_pct": round(statistics.median(t.search_change_pct), 1)}
                    if t.search_change_pct
                    else {}
                ),
            },
            f"python bench/perf_gate_accuracy.py --runs {count}",
        )
        for name, t in tallies.items()
    ]
    return Measurement(
        "perf_gate_accuracy",
        "Perf gate: false alarms on unchanged code, detections of +50% / +20% / +15% search sleeps",
        figures,
        notes=(
            "QUICK: one run per case with 2 s rounds; it proves the machinery, not the rates."
            if quick
            else "`failed` on unchanged rows are false alarms (targets: at most 1 in 20); on "
            "slowed rows they are detections (targets: at least 19 in 20 for +50%, and for +20% "
            "with perf-ab, read from the row whose measured `change_pct` is about +20%). "
            "`inconclusive` runs exit 0 and say so: a limit was exceeded without significance "
            "after the last round or pair, so they are neither alarms nor detections; the rest "
            "passed. Smoke profile, 5 s rounds, 5 baseline rounds, gate up to 9 rounds, perf-ab "
            "6 pairs up to 30, the two rounds of a pair at the same time (`most_rounds`: the "
            "most one run needed). `sleep_ms`: the median sleep injected, a share of the search "
            "median the same command measured on unchanged code. `pair_sd`: the median over "
            "runs of the pair-to-pair standard deviation of log(candidate / base) of the search "
            "median. `change_pct`: the median change of the search median the runs measured (a "
            "sleep costs more than its length under load, as the event loop is busy when it "
            "ends). The gate rows come from an earlier sitting that did not record these columns."
            + (
                f" In progress: {count} of {TARGET_RUNS} runs per case so far, from the "
                "checkpoint; `BENCH_RESUME=1 make bench ARGS='--only perf_gate_accuracy'` "
                "continues."
                if count < TARGET_RUNS
                else ""
            )
        ),
        chart=("failed", "runs"),
        headline="Perf gates: "
        + "; ".join(
            f"{name} {t.failed}/{t.runs} "
            + ("false alarms" if name.endswith("unchanged") else "detected")
            for name, t in tallies.items()
        )
        + ".",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--project", type=Path, help="an installed bake (default: bench's own)")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    parser.add_argument("--resume", action="store_true", help=f"continue from {CHECKPOINT}")
    arguments = parser.parse_args()
    tallies = accuracy(arguments.project or perf_project(), arguments.runs, resume=arguments.resume)
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
