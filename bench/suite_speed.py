"""Wall times of the installed default bake's suite targets, side by side in one run (issue 19):

- `make test`, the feedback suite (every test not marked slow), on one xdist worker per core;
- `make test-all`, the whole suite with the slow tests (what `make test` ran before the marker);
- `make test-impact` on a one-function change (`chunk_text`), with the map of `make impact-map`;
- `make test-all-enhanced`, every tier and the gates.

Each round runs every target once, in that order, so the machine's drift falls on all of them
alike (interleaved); each figure is the median over BENCH_SUITE_RUNS rounds (default 5). QUICK
times one round of `make test ARGS='-m unit'` only.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
from collections.abc import Callable

from project import (
    REAL_SERVICES,
    Edit,
    Figure,
    Measurement,
    clean_env,
    commit_all,
    edited,
    installed_default_project,
    progress,
    run,
    timed,
)

DEFAULT_MAP = ".testkit/impact-map.json"  # testkit.impact.map.DEFAULT_MAP in the bake
ONE_FUNCTION = Edit(
    "services/api/src/acme_knowledge_base/chunking.py",
    "    pieces: list[str] = []\n",
    "    pieces: list[str] = [*()]\n",  # the same behaviour, another AST: chunk_text changed
)
TARGETS = {
    "make test": ("test",),
    "make test-all": ("test-all",),
    f"make test-impact (one function: {ONE_FUNCTION.path})": (
        "test-impact",
        f"CHANGED_FILES={ONE_FUNCTION.path}",
    ),
    "make test-all-enhanced": ("test-all-enhanced",),
}
# The targets (2 cores), in seconds.
GOALS = {"make test": 60, "make test-impact": 10, "make test-all-enhanced": 360}
SUMMARY_LINE = re.compile(r"=+ (.*\b(?:passed|failed)\b.*) in [\d.]+s")


def _goal(label: str) -> int | str:
    return GOALS.get(label.split(" (")[0], "")


def measure(quick: bool) -> Measurement:
    project = installed_default_project()
    env = clean_env(**REAL_SERVICES)
    rounds = 1 if quick else int(os.environ.get("BENCH_SUITE_RUNS", "5"))
    targets = {"make test ARGS='-m unit'": ("test", "ARGS=-m unit")} if quick else TARGETS
    if not quick:
        # As a team has it: a git repository (diff coverage, the mutation gate), the perf
        # baseline recorded on this machine, the impact map of the clean tree. Not timed.
        if not (project / ".git").is_dir():
            commit_all(project)
        progress("make perf-baseline PROFILE=smoke, make impact-map (once, not timed)")
        run(["make", "perf-baseline", "PROFILE=smoke"], cwd=project, env=env, timeout=3600)
        if not (project / DEFAULT_MAP).is_file():
            run(["make", "impact-map"], cwd=project, env=env, timeout=3600)
    samples: dict[str, list[float]] = {label: [] for label in targets}
    outcomes: dict[str, str] = {}

    def make(label: str, arguments: tuple[str, ...]) -> Callable[[], object]:
        def action() -> None:
            # A failing run is timed and said (`last_run`), not fatal: a gate's verdict is not
            # this bench's business, its wall time is.
            result = subprocess.run(
                ["make", *arguments],
                cwd=project,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=3600,
                check=False,
            )
            found = SUMMARY_LINE.findall(result.stdout)
            last = result.stdout.rstrip().splitlines()[-1:] if "enhanced" in label else found[-1:]
            status = "" if result.returncode == 0 else f" (exit {result.returncode})"
            outcomes[label] = (last[0] if last else "") + status

        return action

    for number in range(1, rounds + 1):
        for label, arguments in targets.items():
            edits = (ONE_FUNCTION,) if arguments[0] == "test-impact" else ()
            with edited(project, *edits):
                seconds = timed(make(label, arguments))
            samples[label].append(seconds)
            progress(f"round {number}/{rounds}: {label} {seconds:.1f} s")
    figures = [
        Figure(
            label,
            {
                "median_s": round(statistics.median(values), 1),
                "min_s": round(min(values), 1),
                "max_s": round(max(values), 1),
                "runs": len(values),
                "goal_s": _goal(label),
                "last_run": outcomes.get(label, ""),
            },
            label.split(" (")[0] + ("" if "impact" not in label else " CHANGED_FILES=..."),
        )
        for label, values in samples.items()
    ]
    medians = {f.label: f.values["median_s"] for f in figures}
    return Measurement(
        "suite_speed",
        "Default bake: wall time of make test, test-all, test-impact and test-all-enhanced",
        figures,
        notes=(
            f"Medians over {rounds} interleaved round(s) (each round runs every target once, "
            "in the order of the table), installed default bake, machine services via "
            "TEST_*_URL, 2 cores, TEST_WORKERS=auto (one xdist worker per core). `make test` "
            "leaves out the tests marked slow (the chaos tier, testkit's own integration "
            "tests); `make test-all` is the whole suite, what `make test` ran before. "
            "test-impact: `make impact-map` once on the clean tree, then each round changes "
            "one function (chunk_text) and puts it back. Before the rounds, untimed: the bake "
            "committed to git, `make perf-baseline PROFILE=smoke` (the performance gate's "
            "baseline on this machine). `last_run`: the last round's pytest summary "
            "(test-all-enhanced: its verdict line)."
        ),
        chart=("median_s", "s"),
        headline="Suite wall time (medians, 2 cores): "
        + ", ".join(f"{label.split(' (')[0]} {value} s" for label, value in medians.items()),
    )
