"""The mutation gate's cost and verdicts on one-function changes in a default bake.

In the benchmark bake (its own git repository), each case is one commit on top of the bake,
judged by `make mutation-gate BASE=HEAD~1` as a pull request would be, then taken back:

- no change: `BASE=HEAD`, nothing to mutate (the gate's fixed cost);
- a changed line in an existing, tested function (pagination.page_window clamps the limit);
- a new function with its unit test (pagination.pages_needed and a test of it);
- the same new function without a test (the gate must fail and name its mutants).

Each case runs `repeats` times (3; quick: once, the tested new function only); every run starts
mutmut from a fresh `mutants/` (as the gate always does), so each time is the whole cost: the
workspace, mutmut's stats run of the unit and property tiers, and the mutants. Standalone:
python bench/mutation_gate.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from project import (
    Figure,
    Measurement,
    clean_env,
    commit_all,
    installed_default_project,
    progress,
    run,
    timed,
)

COMMAND = "python bench/mutation_gate.py"
PAGINATION = "services/api/src/acme_knowledge_base/pagination.py"
NEW_FUNCTION = '''

def pages_needed(total: int, *, page_size: int = DEFAULT_PAGE_SIZE) -> int:
    """How many pages hold ``total`` rows."""
    if total <= 0:
        return 0
    return (total + page_size - 1) // page_size
'''
NEW_TEST = (
    "tests/unit/test_pages_needed.py",
    "from acme_knowledge_base.pagination import pages_needed\n\n\n"
    "def test_pages_needed_rounds_up_and_is_zero_for_nothing() -> None:\n"
    "    assert pages_needed(0) == 0\n"
    "    assert pages_needed(-3) == 0\n"
    "    assert pages_needed(1, page_size=10) == 1\n"
    "    assert pages_needed(10, page_size=10) == 1\n"
    "    assert pages_needed(11, page_size=10) == 2\n",
)
CLAMPED = (
    "    size = min(len(fetched), limit)\n",
    "    size = min(len(fetched), max(limit, 1))\n",
)
GIT = ("git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com")


@dataclass(frozen=True)
class Case:
    label: str
    files: dict[str, str]  # path -> its new text (relative to the project)
    base: str = "HEAD~1"


def cases(project: Path) -> list[Case]:
    source = (project / PAGINATION).read_text(encoding="utf-8")
    assert source.count(CLAMPED[0]) == 1, "the page_window edit no longer applies"
    return [
        Case("no change (BASE=HEAD)", {}, base="HEAD"),
        Case("changed line in a tested function", {PAGINATION: source.replace(*CLAMPED)}),
        Case(
            "new function with its test",
            {PAGINATION: source + NEW_FUNCTION, NEW_TEST[0]: NEW_TEST[1]},
        ),
        Case("new function, no test", {PAGINATION: source + NEW_FUNCTION}),
    ]


def judge(project: Path, case: Case) -> tuple[float, dict[str, object]]:
    """Commit the case, time the gate, take the commit back; (seconds, the gate's report)."""
    for path, text in case.files.items():
        (project / path).write_text(text, encoding="utf-8")
    if case.files:
        run([*GIT, "add", "--all"], project)
        run([*GIT, "commit", "--quiet", "-m", case.label], project)
    try:
        command = ["make", "mutation-gate", f"BASE={case.base}"]
        seconds = timed(
            lambda: subprocess.run(command, cwd=project, env=clean_env(), capture_output=True)
        )
        report = json.loads((project / "reports" / "mutation.json").read_text(encoding="utf-8"))
    finally:
        if case.files:
            run([*GIT, "reset", "--quiet", "--hard", "HEAD~1"], project)
    return seconds, report


def measure(quick: bool, repeats: int = 3) -> Measurement:
    project = installed_default_project()
    if not (project / ".git").is_dir():
        commit_all(project)
    chosen = cases(project)
    if quick:
        chosen, repeats = [chosen[2]], 1
    figures = []
    for case in chosen:
        samples, report = [], {}
        for attempt in range(repeats):
            progress(f"mutation gate: {case.label} ({attempt + 1}/{repeats})")
            seconds, report = judge(project, case)
            samples.append(seconds)
        score = report.get("score_percent")
        figures.append(
            Figure(
                case.label,
                {
                    "median_s": round(statistics.median(samples), 1),
                    "max_s": round(max(samples), 1),
                    "mutants": int(report.get("total", 0)),
                    "score_%": "-" if score is None else round(float(score), 1),
                    "verdict": str(report.get("verdict")),
                },
                f"{COMMAND} (make mutation-gate BASE={case.base})",
            )
        )
    slowest = max(float(f.values["median_s"]) for f in figures)
    return Measurement(
        "mutation_gate",
        "Mutation gate on one-function changes (make mutation-gate, mutmut 3)",
        figures,
        notes=(
            f"Median and maximum of {repeats} runs per case on the default bake, each from a fresh "
            "mutmut workspace: the stats run of the unit and property tiers, then each mutant of "
            "the changed function against the tests that call it. Mutants counted are those on "
            "the changed lines. The untested function must FAIL (its mutants reach no test)."
        ),
        chart=("median_s", "s"),
        headline=(
            f"mutation gate: a one-function change is judged in at most {slowest:.0f} s "
            "(median) on 2 cores; an untested new function fails naming its mutants."
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args(argv)
    for figure in measure(False, arguments.repeats).figures:
        print(figure.label, figure.values)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
