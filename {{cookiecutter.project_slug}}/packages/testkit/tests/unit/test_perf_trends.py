"""`testkit perf trends`: change points of the recorded perf runs and test durations, printed."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
from pathlib import Path

import pytest

pytest.importorskip("ruptures", reason="the analytics extra (ruptures) is not installed")

from testkit.analytics.history import Run, open_history
from testkit.analytics.perf_history import record_perf_summary
from testkit.perf import trends

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SLOW_TEST = "tests/e2e/test_journey.py::test_checkout"


def trends_main(argv: list[str]) -> int:
    """`testkit perf trends ARGS` as perf/cli.py wires it: add_parser under `perf`."""
    parser = argparse.ArgumentParser(prog="testkit perf")
    trends.add_parser(parser.add_subparsers(dest="perf_command", required=True))
    arguments = parser.parse_args(["trends", *argv])
    exit_code: int = arguments.handler(arguments)
    return exit_code


def record_perf_runs(history: Path, p95_levels: list[float], seed: int = 1) -> None:
    rng = random.Random(seed)
    for index, level in enumerate(p95_levels):
        p95 = level * (1 + rng.gauss(0, 0.03))
        total = {
            "requests": 2000,
            "failures": 0,
            "error_rate": 0.0,
            "rps": 100 * (1 + rng.gauss(0, 0.03)),
            "p50_ms": 10 * (1 + rng.gauss(0, 0.03)),
            "p95_ms": p95,
            "p99_ms": 2 * p95,
        }
        created = START + dt.timedelta(hours=index)
        meta = {"commit": f"{index:02d}" + "c" * 38, "dirty": False, "created_at": str(created)}
        summary = {"profile": "smoke", "total": total, "endpoints": {}, "metadata": meta}
        record_perf_summary(history, summary, kind="gate")


def record_test_runs(history: Path, call_seconds: list[float], seed: int = 2) -> None:
    rng = random.Random(seed)
    store = open_history(history, create=True)
    for index, seconds in enumerate(call_seconds):
        run_id = f"run-{index:02d}"
        started = (START + dt.timedelta(hours=index)).timestamp()
        store.start_run(Run(run_id, started, None, 1, "MOCK", "all", "fp", "[]", 0, None))
        call = seconds * (1 + rng.gauss(0, 0.03))
        fast = 0.01 * (1 + rng.gauss(0, 0.03))
        store.add_results(
            [
                (run_id, SLOW_TEST, "passed", 0, 0.1, call, 0.01, "master", 0),
                (run_id, "tests/unit/test_fast.py::test_x", "passed", 0, 0.0, fast, 0.0, "m", 1),
            ]
        )
        store.finish_run(run_id, started + 60, 0)
    store.close()


def test_a_p95_step_and_a_slower_test_are_listed_with_their_ranges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.db"
    record_perf_runs(history, [40.0] * 12 + [55.0] * 10)
    record_test_runs(history, [1.0] * 15 + [1.6] * 10)

    assert trends_main(["--history", str(history)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "perf change points (smoke 22 runs; run, baseline, gate; commits: last before..first "
        "after):"
    )
    assert lines[1].split() == [
        "profile", "scope", "metric", "commits", "before", "->", "after", "change", "at", "(UTC)"
    ]  # fmt: skip
    (p95,) = [line for line in lines if " p95_ms " in line]
    assert f"{'11' + 'c' * 10}..{'12' + 'c' * 10}" in p95
    assert re.search(r" ms +\+3\d\.\d%  2026-11-01 12:00$", p95)  # a +37.5 % step
    assert len([line for line in lines if " p99_ms " in line]) == 1
    assert not [line for line in lines if " p50_ms " in line or " rps " in line]
    tests_header = lines.index(next(line for line in lines if line.startswith("test duration")))
    assert "25 runs, 2 tests judged; the largest 1 of 1" in lines[tests_header]
    (slow,) = [line for line in lines if line.startswith(SLOW_TEST)]
    assert "run-14..run-15" in slow
    assert re.search(r" s +\+[56]\d\.\d%$", slow)  # a +60 % step


def test_flat_history_says_no_change_points_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.db"
    record_perf_runs(history, [40.0] * 20)
    record_test_runs(history, [1.0] * 20)

    assert trends_main(["--history", str(history)]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "perf: no change points in 20 runs (smoke 20; run, baseline, gate)",
        "",
        "tests: no change points in 20 runs (2 tests with enough passes)",
    ]


def test_too_few_runs_are_named_with_what_records_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.db"
    record_perf_runs(history, [40.0] * 5)
    record_test_runs(history, [1.0] * 3)

    assert trends_main(["--history", str(history)]) == 0

    out = capsys.readouterr().out
    assert "perf: too few runs to look for change points: smoke 5 recorded" in out
    assert "at least 14 needed; make perf, make perf-baseline and make performance-gate" in out
    assert "tests: too few runs to look for change points: 3 finished runs recorded" in out


def test_no_perf_run_of_the_requested_kind_says_what_records_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.db"
    record_perf_runs(history, [40.0] * 20)

    assert trends_main(["--history", str(history), "--kind", "ab", "--tests", "0"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "perf: no perf runs (ab) recorded yet; make perf, make perf-baseline and make "
        "performance-gate record one each"
    ]


def test_a_missing_history_is_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert trends_main(["--history", str(tmp_path / "none.db")]) == 0

    assert "no history at" in capsys.readouterr().out


def test_a_foreign_history_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "h.db").write_text("not sqlite")

    assert trends_main(["--history", str(tmp_path / "h.db")]) == 2

    assert "h.db is not a testkit history database" in capsys.readouterr().out


def test_an_unknown_kind_is_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        trends_main(["--kind", "nightly"])

    assert exited.value.code == 2
    assert "invalid choice: 'nightly'" in capsys.readouterr().err
