"""`make flakiness-new BASE=<ref>`: early flake detection. Every test that is new or changed
since BASE runs many times before it merges, so a flaky test is caught by its author, not by
the suite a week later.

Selected: the test functions whose lines (decorators and the comments right above included)
changed in `git diff BASE` (testkit.analytics.changes), mapped to functions with the same ast
spans the mutation gate uses (testkit.mutation.scope), and every test of a test file git does
not track yet. The selected tests run RUNS times (default [tool.testkit] flakiness_new_runs),
each time in a fresh pytest process with a fresh seed and order (pytest-randomly), then once
each alone. One pytest session with pytest-repeat's --count would start pytest once instead of
RUNS times, but pytest-randomly reseeds `random` with the session's one seed before every
test, so all its repeats see the same data: a test that fails for one seed in two would pass
all of them. The runs are recorded in the history like the flakiness report's reruns.

    stable           passed every run and alone
    flaky            passed and failed in the random-order runs
    order-dependent  passed every random-order run but failed alone, or the reverse
    broken           failed every run and alone
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from testkit.mutation.scope import CLASS_SEPARATOR, function_spans

# pytest's default python_files: the files whose changes can add or change a test.
TEST_FILE_PATTERNS = ("test_*.py", "*_test.py")


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatch(name, pattern) for pattern in TEST_FILE_PATTERNS)


def span_name(nodeid: str) -> tuple[str, str] | None:
    """`path::Class::test_x[param]` -> (path, the function's name as function_spans gives it);
    None for a test no span describes (nested classes)."""
    path, *names = nodeid.split("::")
    names = [name.split("[", 1)[0] for name in names]
    if len(names) == 1:
        return path, f"x_{names[0]}"
    if len(names) == 2:
        sep = CLASS_SEPARATOR
        return path, f"x{sep}{names[0]}{sep}{names[1]}"
    return None


def select_changed_tests(
    collected: Sequence[str],
    changed_lines: Mapping[str, Sequence[int]],
    new_files: Sequence[str],
    sources: Mapping[str, str],
) -> tuple[str, ...]:
    """The collected node ids whose function holds a changed line, or whose file is new.

    Pure: `collected` in pytest's order, `changed_lines` per file (new-side line numbers),
    `sources` the current text of the changed test files."""
    spans = {
        path: {span.name: span for span in function_spans(text)} for path, text in sources.items()
    }
    whole = set(new_files)
    chosen: list[str] = []
    for nodeid in collected:
        named = span_name(nodeid)
        if named is None:
            if nodeid.split("::")[0] in whole:
                chosen.append(nodeid)
            continue
        path, name = named
        if path in whole:
            chosen.append(nodeid)
            continue
        span = spans.get(path, {}).get(name)
        lines = changed_lines.get(path, ())
        if span is not None and any(span.first <= line <= span.last for line in lines):
            chosen.append(nodeid)
    return tuple(chosen)


@dataclass(frozen=True, slots=True)
class Stability:
    nodeid: str
    verdict: str  # stable | flaky | order-dependent | broken | not run
    passes: int  # in the random-order runs
    failures: int
    alone: str  # passed | failed | skipped

    @property
    def stable(self) -> bool:
        return self.verdict in {"stable", "not run"}

    def line(self) -> str:
        runs = self.passes + self.failures
        return (
            f"{self.verdict.upper():16} {self.nodeid}: failed {self.failures} of {runs} "
            f"random-order runs, {self.alone} alone"
        )


def judge(nodeid: str, passes: int, failures: int, alone: str) -> Stability:
    """The verdict of one new test (see the module docstring)."""
    if passes == 0 and failures == 0 and alone not in {"passed", "failed"}:
        verdict = "not run"
    elif passes and failures:
        verdict = "flaky"
    elif failures and alone == "failed":
        verdict = "broken"
    elif failures or alone == "failed":
        verdict = "order-dependent"
    else:
        verdict = "stable"
    return Stability(nodeid, verdict, passes, failures, alone)


def summary(verdicts: Sequence[Stability], runs: int, base: str) -> str:
    unstable = [verdict for verdict in verdicts if not verdict.stable]
    head = f"flakiness-new: {len(verdicts)} new or changed test(s) since {base}, {runs} runs each"
    if not unstable:
        return f"{head}: all stable"
    return f"{head}: {len(unstable)} NOT stable"
