"""What testkit's history recording costs per test: 2,000 trivial tests, with and without it.

The same generated suite runs in the default bake's environment with recording on (the
default) and off (TESTKIT_HISTORY=off), interleaved so drift on a shared machine hits both
alike, `repeats` times each (5 by default). Overhead per test = (median with - median
without) / tests. Two clocks: wall time, and the CPU time (user + sys) of the pytest process,
which a loaded machine disturbs far less. The target is <= 30 microseconds per test.

On a shared machine the end-to-end difference is a few tens of milliseconds inside runs that
vary by seconds, so a third figure isolates the recorder itself: in the bake's interpreter, its
hooks are fed 3 x 2,000 real pytest TestReport objects and it opens, fingerprints, writes and
closes a history file exactly as in a run (IN_PROCESS below), timed on both clocks.

Standalone: python bench/history_overhead.py [--repeats 5] [--tests 2000] [--project DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from project import Figure, Measurement, clean_env, installed_default_project, progress

TARGET_US = 30.0
INI = """[pytest]
addopts = -q -p no:cacheprovider
"""


def write_suite(directory: Path, tests: int) -> None:
    """`tests` trivial test functions in one module, and an ini so no project config applies."""
    (directory / "pytest.ini").write_text(INI)
    body = "".join(f"def test_{number}():\n    pass\n\n\n" for number in range(tests))
    (directory / "test_trivial.py").write_text(body)


def one_run(python: Path, directory: Path, *, record: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest run over the suite."""
    environment = clean_env(TESTKIT_HISTORY=".testkit/history.db" if record else "off")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [str(python), "-m", "pytest", "test_trivial.py"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"pytest exited {completed.returncode}:\n{completed.stdout[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def overhead(project: Path, *, tests: int, repeats: int) -> dict[str, float]:
    python = project / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="history-overhead-") as temporary:
        directory = Path(temporary)
        write_suite(directory, tests)
        one_run(python, directory, record=True)  # warm the caches (.pyc, the history file)
        samples: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for repeat in range(repeats):
            for record in (repeat % 2 == 0, repeat % 2 != 0):  # alternate which goes first
                samples[record].append(one_run(python, directory, record=record))
            progress(
                f"history overhead {repeat + 1}/{repeats}: with {samples[True][-1][0]:.2f}s "
                f"without {samples[False][-1][0]:.2f}s (wall)"
            )
        recorded = _count_rows(directory / ".testkit" / "history.db")
    result: dict[str, float] = {"tests": tests, "repeats": repeats, "rows_recorded": recorded}
    for index, clock in ((0, "wall"), (1, "cpu")):
        with_median = statistics.median(sample[index] for sample in samples[True])
        without_median = statistics.median(sample[index] for sample in samples[False])
        result[f"{clock}_with_s"] = round(with_median, 3)
        result[f"{clock}_without_s"] = round(without_median, 3)
        result[f"{clock}_overhead_us_per_test"] = round(
            (with_median - without_median) / tests * 1e6, 1
        )
    return result


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


def in_process(project: Path, *, tests: int, repeats: int) -> dict[str, float]:
    python = project / ".venv" / "bin" / "python"
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
    return {
        "wall_us_per_test": round(wall / tests * 1e6, 1),
        "cpu_us_per_test": round(cpu / tests * 1e6, 1),
    }


def _count_rows(path: Path) -> int:
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        (count,) = connection.execute("SELECT COUNT(*) FROM results").fetchone()
    finally:
        connection.close()
    return int(count)


def measure(quick: bool, project: Path | None = None, repeats: int | None = None) -> Measurement:
    tests = 2000
    repeats = repeats or (3 if quick else 5)
    project = project or installed_default_project()
    figures = overhead(project, tests=tests, repeats=repeats)
    isolated = in_process(project, tests=tests, repeats=repeats)
    wall, cpu = figures["wall_overhead_us_per_test"], figures["cpu_overhead_us_per_test"]
    return Measurement(
        "history_overhead",
        f"History recording overhead per test ({tests} trivial tests, target <= {TARGET_US:g} us)",
        [
            Figure(
                "wall clock",
                {
                    "with_s": figures["wall_with_s"],
                    "without_s": figures["wall_without_s"],
                    "overhead_us_per_test": wall,
                },
                "python bench/history_overhead.py",
            ),
            Figure(
                "CPU time",
                {
                    "with_s": figures["cpu_with_s"],
                    "without_s": figures["cpu_without_s"],
                    "overhead_us_per_test": cpu,
                },
                "python bench/history_overhead.py",
            ),
            Figure(
                "recorder alone (in process)",
                {"overhead_us_per_test": isolated["cpu_us_per_test"]},
                "python bench/history_overhead.py",
            ),
            Figure(
                "recorder alone, wall (incl. fsync)",
                {"overhead_us_per_test": isolated["wall_us_per_test"]},
                "python bench/history_overhead.py",
            ),
        ],
        notes=(
            f"Median of {repeats} interleaved runs each, recording on vs TESTKIT_HISTORY=off; "
            f"{figures['rows_recorded']:.0f} result rows written over the recorded runs."
        ),
        chart=("overhead_us_per_test", "us"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--project", type=Path, help="an installed bake (default: bench's own)")
    arguments = parser.parse_args()
    project = arguments.project or installed_default_project()
    figures = overhead(project, tests=arguments.tests, repeats=arguments.repeats)
    isolated = in_process(project, tests=arguments.tests, repeats=arguments.repeats)
    for key, value in (figures | {f"recorder_alone_{k}": v for k, v in isolated.items()}).items():
        print(f"{key}: {value}")
    wall, cpu = figures["wall_overhead_us_per_test"], figures["cpu_overhead_us_per_test"]
    print(
        f"overhead per test, end to end: wall {wall} us, CPU {cpu} us; recorder alone: "
        f"CPU {isolated['cpu_us_per_test']} us, wall {isolated['wall_us_per_test']} us "
        f"(target {TARGET_US:g} us)"
    )
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).parent)
    sys.exit(main())
