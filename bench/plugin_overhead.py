"""What testkit costs per test, beside plain pytest and pytest-testmon, in the default bake.

Two suites, each run in every configuration below, interleaved (the order rotates each repeat,
so drift on a shared machine hits all alike), `repeats` times (5 by default); each figure is the
median, as wall time and as the CPU time (user + sys) of the pytest process:

- 2,000 trivial tests (`def test_n(): pass`) with plugin autoloading off, so each
  configuration loads exactly what it names:
  - plain pytest;
  - testkit with history recording off (TESTKIT_HISTORY=off);
  - testkit as shipped (recording on): the difference to "recording off" is issue 6's
    history overhead, target <= 30 microseconds per test;
  - pytest-testmon with --testmon-noselect (it traces and records, and runs every test,
    as testkit does; plain --testmon would deselect them all on an unchanged tree).
- the default bake's real suite, unit and property tiers, serial, with the bake's plugins
  (xdist, hypothesis, asyncio...) loaded as usual. The tests use testkit's fixtures, so
  "without testkit" is not runnable there: the reference is testkit with recording off, then
  recording on, then recording off with pytest-testmon (--testmon-noselect) added.

On this 2-core VM one run of 2,000 trivial tests varies by +-0.4 s (+-200 us per test) from run
to run, ten times the history target, so its figure comes from a clock that does not move:
both testkit configurations run once more under valgrind's callgrind (children traced, so the
git calls of the code fingerprint count), and the difference in instructions executed is
converted to time at the rate the machine ran the recording-off suite natively. The trivial
suite is a git repository with one commit, as a project is. A further figure isolates the
recorder itself: in the bake's interpreter its hooks are fed 3 x 2,000 real pytest TestReport
objects while it opens, fingerprints, writes and closes a history file (IN_PROCESS below).

Standalone: python bench/plugin_overhead.py [--repeats 5] [--tests 2000] [--project DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from project import (
    REAL_SERVICES,
    Figure,
    Measurement,
    clean_env,
    commit_all,
    install_testmon,
    installed_default_project,
    progress,
)

TARGET_US = 30.0
INI = """[pytest]
addopts = -q -p no:cacheprovider
"""
REAL_TIERS = ("tests/unit", "tests/property")


@dataclass(frozen=True)
class Config:
    label: str
    arguments: tuple[str, ...]
    env: Mapping[str, str]


NO_AUTOLOAD = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
RECORD = {"TESTKIT_HISTORY": ".testkit/history.db"}
NO_RECORD = {"TESTKIT_HISTORY": "off"}
TRIVIAL = (
    Config("plain pytest", (), NO_AUTOLOAD),
    Config("testkit, recording off", ("-p", "testkit.plugin"), NO_AUTOLOAD | NO_RECORD),
    Config("testkit", ("-p", "testkit.plugin"), NO_AUTOLOAD | RECORD),
    Config(
        "pytest-testmon",
        ("-p", "testmon.pytest_testmon", "--testmon-noselect"),
        NO_AUTOLOAD,
    ),
)
REAL = (
    Config("testkit, recording off", ("-p", "no:randomly"), NO_RECORD),
    Config("testkit", ("-p", "no:randomly"), RECORD),
    Config("testkit off + pytest-testmon", ("-p", "no:randomly", "--testmon-noselect"), NO_RECORD),
)


def write_suite(directory: Path, tests: int) -> None:
    """`tests` trivial test functions in one module, an ini so no project config applies, and
    a git repository around them (the fingerprint of a run asks git, as in a project)."""
    (directory / "pytest.ini").write_text(INI)
    body = "".join(f"def test_{number}():\n    pass\n\n\n" for number in range(tests))
    (directory / "test_trivial.py").write_text(body)
    (directory / ".gitignore").write_text(".testkit/\n__pycache__/\n.testmondata*\n")
    commit_all(directory)


def instructions(python: Path, cwd: Path, configs: Sequence[Config], path: str) -> list[int]:
    """Instructions each configuration executes (all its processes), under callgrind, side by
    side (one process per core)."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        running = [
            subprocess.Popen(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--trace-children=yes",
                    f"--callgrind-out-file={scratch}/{index}.%p",
                    str(python),
                    "-m",
                    "pytest",
                    *config.arguments,
                    path,
                ],
                cwd=cwd,
                env=clean_env(**REAL_SERVICES, **config.env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index, config in enumerate(configs)
        ]
        reports = [process.communicate()[1] for process in running]
    counts = []
    for config, process, report in zip(configs, running, reports, strict=True):
        collected = re.findall(r"Collected : (\d+)", report)
        if process.returncode != 0 or not collected:
            raise RuntimeError(f"callgrind ({config.label}) exited {process.returncode}:\n{report}")
        counts.append(sum(int(count) for count in collected))
    return counts


def history_instructions(
    python: Path, directory: Path, tests: int, off_cpu_s: float
) -> Figure | None:
    """Issue 6's figure, from instruction counts: recording on minus recording off."""
    if shutil.which("valgrind") is None:
        progress("valgrind is not installed: no instruction-count figure for history recording")
        return None
    off, on = (c for c in TRIVIAL if c.label in {"testkit, recording off", "testkit"})
    progress("history recording under callgrind (a few minutes)")
    off_count, on_count = instructions(python, directory, [off, on], "test_trivial.py")
    per_second = off_count / off_cpu_s  # the machine's native rate on this very suite
    extra = (on_count - off_count) / tests
    return Figure(
        f"{tests} trivial tests: history recording, instructions (callgrind)",
        {
            "instructions_per_test": round(extra),
            "us_per_test_cpu": round(extra / per_second * 1e6, 1),
            "target_us": TARGET_US,
        },
        "python bench/plugin_overhead.py",
    )


def one_run(python: Path, cwd: Path, config: Config, paths: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest run."""
    for stale in cwd.glob(".testmondata*"):
        stale.unlink()  # testmon starts from nothing every time, as recording does per run
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [str(python), "-m", "pytest", *config.arguments, *paths],
        cwd=cwd,
        env=clean_env(**REAL_SERVICES, **config.env),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        tail = (completed.stdout + completed.stderr)[-2000:]
        raise RuntimeError(f"pytest ({config.label}) exited {completed.returncode}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def interleaved(
    python: Path, cwd: Path, configs: Sequence[Config], paths: Sequence[str], repeats: int
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per configuration over `repeats` rotated rounds."""
    for config in configs:
        one_run(python, cwd, config, paths)  # warm the caches (.pyc files, the history file)
    samples: dict[str, list[tuple[float, float]]] = {config.label: [] for config in configs}
    for repeat in range(repeats):
        shift = repeat % len(configs)
        for config in [*configs[shift:], *configs[:shift]]:
            samples[config.label].append(one_run(python, cwd, config, paths))
        progress(
            f"{cwd.name} {repeat + 1}/{repeats}: "
            + ", ".join(f"{label} {runs[-1][0]:.2f}s" for label, runs in samples.items())
        )
    return {
        label: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs))
        for label, runs in samples.items()
    }


def count_tests(python: Path, cwd: Path, paths: Sequence[str]) -> int:
    completed = subprocess.run(
        [str(python), "-m", "pytest", "--collect-only", "-q", *paths],
        cwd=cwd,
        env=clean_env(**REAL_SERVICES),
        capture_output=True,
        text=True,
        check=True,
    )
    return sum("::" in line for line in completed.stdout.splitlines())


def figures_against(
    medians: Mapping[str, tuple[float, float]], reference: str, tests: int, suite: str
) -> list[Figure]:
    """One row per configuration: medians, ratio and microseconds per test over `reference`."""
    base_wall, base_cpu = medians[reference]
    rows = []
    for label, (wall, cpu) in medians.items():
        rows.append(
            Figure(
                f"{suite}: {label}",
                {
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "ratio_wall": round(wall / base_wall, 3),
                    "us_per_test_wall": round((wall - base_wall) / tests * 1e6, 1),
                    "us_per_test_cpu": round((cpu - base_cpu) / tests * 1e6, 1),
                },
                "python bench/plugin_overhead.py",
            )
        )
    return rows


# Run by the bake's python: the recorder's whole life for one run of `tests` passing tests.
IN_PROCESS = """
import json, sys, tempfile, time
from pathlib import Path
from _pytest.reports import TestReport
from testkit.analytics.fingerprint import code_fingerprint
from testkit.analytics.history import Run, open_history
from testkit.analytics.recorder import HistoryRecorder, new_run_id

tests, repeats = int(sys.argv[1]), int(sys.argv[2])
reports = [
    TestReport(f"test_trivial.py::test_{n}", ("test_trivial.py", n, f"test_{n}"), {}, "passed",
               None, when, [], 0.0001)
    for n in range(tests) for when in ("setup", "call", "teardown")
]
directory = Path(tempfile.mkdtemp())
(directory / "test_trivial.py").write_text("def test_0():\\n    pass\\n")
samples = []
for _ in range(repeats):
    wall, cpu = time.perf_counter(), time.process_time()
    store = open_history(directory / ".testkit" / "history.db", create=True)
    run = Run(new_run_id(), time.time(), None, 1, "MOCK", ".", code_fingerprint(directory),
              "[]", 0, None)
    recorder = HistoryRecorder(store, run)
    store.start_run(run)
    recorder._started = True
    for report in reports:
        recorder.pytest_runtest_logreport(report)
    recorder.flush()
    store.finish_run(run.run_id, time.time(), 0)
    store.close()
    samples.append((time.perf_counter() - wall, time.process_time() - cpu))
print(json.dumps(samples))
"""


def recorder_alone(python: Path, *, tests: int, repeats: int) -> Figure:
    completed = subprocess.run(
        [str(python), "-c", IN_PROCESS, str(tests), str(repeats)],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    samples = json.loads(completed.stdout)
    wall = statistics.median(sample[0] for sample in samples)
    cpu = statistics.median(sample[1] for sample in samples)
    return Figure(
        "history recorder alone (in process)",
        {
            "us_per_test_wall": round(wall / tests * 1e6, 1),
            "us_per_test_cpu": round(cpu / tests * 1e6, 1),
        },
        "python bench/plugin_overhead.py",
    )


def overhead(
    project: Path, *, tests: int, repeats: int, real_suite: bool, counts: bool = True
) -> list[Figure]:
    python = project / ".venv" / "bin" / "python"
    install_testmon(project)
    with tempfile.TemporaryDirectory(prefix="trivial-") as temporary:
        directory = Path(temporary)
        write_suite(directory, tests)
        trivial = interleaved(python, directory, TRIVIAL, ["test_trivial.py"], repeats)
        off, on = trivial["testkit, recording off"], trivial["testkit"]
        counted = history_instructions(python, directory, tests, off[1]) if counts else None
    figures = figures_against(trivial, "plain pytest", tests, f"{tests} trivial tests")
    figures.append(
        Figure(
            f"{tests} trivial tests: history recording (testkit vs recording off)",
            {
                "us_per_test_wall": round((on[0] - off[0]) / tests * 1e6, 1),
                "us_per_test_cpu": round((on[1] - off[1]) / tests * 1e6, 1),
                "target_us": TARGET_US,
            },
            "python bench/plugin_overhead.py",
        )
    )
    if counted is not None:
        figures.append(counted)
    figures.append(recorder_alone(python, tests=tests, repeats=repeats))
    if real_suite:
        count = count_tests(python, project, REAL_TIERS)
        real = interleaved(python, project, REAL, REAL_TIERS, repeats)
        figures += figures_against(
            real, "testkit, recording off", count, f"real suite ({count} unit+property tests)"
        )
    return figures


def headline(figures: list[Figure], tests: int) -> str:
    rows = {figure.label: figure.values for figure in figures}
    trivial = f"{tests} trivial tests"
    testkit, testmon = rows[f"{trivial}: testkit"], rows[f"{trivial}: pytest-testmon"]
    counted = rows.get(f"{trivial}: history recording, instructions (callgrind)")
    history = (
        f"history recording {counted['us_per_test_cpu']} us by instruction count "
        f"(target <= {TARGET_US:g})"
        if counted
        else "history recording not counted (no callgrind run)"
    )
    return (
        f"Overhead on {tests} trivial tests: testkit {testkit['us_per_test_wall']} us per test "
        f"over plain pytest ({testkit['ratio_wall']}x), of which {history}; pytest-testmon "
        f"{testmon['us_per_test_wall']} us ({testmon['ratio_wall']}x)."
    )


def measure(quick: bool, project: Path | None = None, repeats: int | None = None) -> Measurement:
    tests = 2000
    repeats = repeats or (1 if quick else 5)
    # QUICK: no real suite and no callgrind run (each takes minutes).
    figures = overhead(
        project or installed_default_project(),
        tests=tests,
        repeats=repeats,
        real_suite=not quick,
        counts=not quick,
    )
    return Measurement(
        "plugin_overhead",
        "Overhead per test: testkit beside plain pytest and pytest-testmon",
        figures,
        notes=(
            f"Median of {repeats} interleaved run(s) per configuration. Trivial tests: plugin "
            "autoloading off, each configuration loads only what it names. Real suite: the "
            "default bake's unit and property tiers, serial; its tests need testkit's fixtures, "
            "so its reference is testkit with recording off. `us_per_test` is the difference to "
            "the reference divided by the number of tests. The history-recording row is issue "
            f"6's figure (target <= {TARGET_US:g} us per test)."
        ),
        chart=("us_per_test_cpu", "us"),
        headline=headline(figures, tests),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--no-real-suite", action="store_true", help="trivial tests only")
    parser.add_argument("--project", type=Path, help="an installed bake (default: bench's own)")
    arguments = parser.parse_args()
    figures = overhead(
        arguments.project or installed_default_project(),
        tests=arguments.tests,
        repeats=arguments.repeats,
        real_suite=not arguments.no_real_suite,
    )
    for figure in figures:
        print(f"{figure.label}: " + ", ".join(f"{k} {v}" for k, v in figure.values.items()))
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).parent)
    sys.exit(main())
