"""`testkit perf trends` (make perf-trends): where the recorded runs moved to a new level.

Reads the history file (TESTKIT_HISTORY, default .testkit/history.db): the perf runs that
`testkit perf run|baseline|gate` recorded, one series per profile, scope (total or endpoint)
and metric (p50, p95, p99, throughput), and the call time of each test's passing runs. Lists
every change point (testkit.analytics.changepoints) as the commit range it happened in (last
commit before..first commit after; tests: the run ids) with the median before and after it.
Exit status: 0 (also with no change points, or too few runs to look for any), 2 an unreadable
history file, 3 ruptures missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from testkit import options
from testkit.analytics.changepoints import (
    DURATION_POLICY,
    PERF_POLICY,
    ChangePoint,
    ChangePointsUnavailable,
    Point,
    Policy,
    SeriesChange,
    changes_of_many,
    detect,
)
from testkit.analytics.history import HistoryError, open_history, resolve_history_path
from testkit.analytics.perf_history import (
    KINDS,
    SINGLE_SERVER_KINDS,
    TREND_METRICS,
    SeriesKey,
    perf_run_counts,
    perf_series,
)
from testkit.arguments import non_negative_int, positive_int
from testkit.perf.gate import THROUGHPUT, TOTAL

DEFAULT_TEST_RUNS = 100
DEFAULT_TOP_TESTS = 10
RECORDED_BY = "make perf, make perf-baseline and make performance-gate record one each"
UNITS = {THROUGHPUT: "req/s"}  # the latencies are in ms
METRIC_ORDER = {metric: order for order, metric in enumerate(TREND_METRICS)}


@dataclass(frozen=True, slots=True)
class TrendsRequest:
    """What `testkit perf trends` was asked for, checked once at the command line."""

    history: Path | None  # None: TESTKIT_HISTORY is off
    kinds: tuple[str, ...]
    test_runs: int
    top_tests: int


@dataclass(frozen=True, slots=True)
class PerfChange:
    key: SeriesKey
    change_point: ChangePoint


@dataclass(frozen=True, slots=True)
class Trends:
    """Everything the command prints, decided from the series alone."""

    perf_runs: Mapping[str, int]  # profile -> recorded runs of the requested kinds
    perf_changes: tuple[PerfChange, ...]
    perf_judged: int  # series with enough runs to look for change points
    test_runs: int  # finished test runs read
    test_changes: tuple[SeriesChange, ...]  # the largest first
    tests_judged: int


def find_trends(
    perf: Mapping[SeriesKey, Sequence[Point]],
    perf_runs: Mapping[str, int],
    tests: Mapping[str, Sequence[Point]],
    test_runs: int,
    *,
    perf_policy: Policy = PERF_POLICY,
    test_policy: Policy = DURATION_POLICY,
) -> Trends:
    """The change points of every perf series and every test's durations."""
    perf_changes: list[PerfChange] = []
    judged = 0
    for key, points in perf.items():
        detection = detect(points, perf_policy)
        judged += detection.enough_runs
        perf_changes += [PerfChange(key, point) for point in detection.change_points]
    perf_changes.sort(
        key=lambda c: (
            c.key.profile,
            c.key.scope != TOTAL,
            c.key.scope,
            METRIC_ORDER.get(c.key.metric, len(METRIC_ORDER)),
            c.change_point.index,
        )
    )
    test_changes, tests_judged = changes_of_many(tests, test_policy)
    return Trends(
        dict(perf_runs), tuple(perf_changes), judged, test_runs, test_changes, tests_judged
    )


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def _percent(point: ChangePoint) -> str:
    return f"{100 * point.relative_change:+.1f}%"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _perf_lines(trends: Trends, kinds: Sequence[str], min_runs: int) -> list[str]:
    counts = ", ".join(f"{p} {n}" for p, n in sorted(trends.perf_runs.items()))
    runs = max(trends.perf_runs.values(), default=0)
    if not trends.perf_runs:
        return [f"perf: no perf runs ({', '.join(kinds)}) recorded yet; {RECORDED_BY}"]
    if not trends.perf_judged:
        return [
            f"perf: too few runs to look for change points: {counts} recorded "
            f"({', '.join(kinds)}), at least {min_runs} needed; {RECORDED_BY}"
        ]
    if not trends.perf_changes:
        return [f"perf: no change points in {runs} runs ({counts}; {', '.join(kinds)})"]
    rows = [["profile", "scope", "metric", "commits", "before -> after", "change", "at (UTC)"]]
    for found in trends.perf_changes:
        point = found.change_point
        unit = UNITS.get(found.key.metric, "ms")
        rows.append(
            [
                found.key.profile,
                found.key.scope,
                found.key.metric,
                point.span,
                f"{point.before_median:.1f} -> {point.after_median:.1f} {unit}",
                _percent(point),
                _when(point.after.at),
            ]
        )
    header = (
        f"perf change points ({counts} runs; {', '.join(kinds)}; "
        "commits: last before..first after):"
    )
    return [header, *_table(rows)]


def _test_lines(trends: Trends, top: int, min_runs: int) -> list[str]:
    if not trends.tests_judged:
        return [
            f"tests: too few runs to look for change points: {trends.test_runs} finished runs "
            f"recorded, each test needs at least {min_runs} passes (make test records one)"
        ]
    if not trends.test_changes:
        return [
            f"tests: no change points in {trends.test_runs} runs "
            f"({trends.tests_judged} tests with enough passes)"
        ]
    rows = [["test", "runs (last before..first after)", "before -> after", "change"]]
    for found in trends.test_changes[:top]:
        point = found.change_point
        rows.append(
            [
                found.name,
                point.span,
                f"{point.before_median:.3f} -> {point.after_median:.3f} s",
                _percent(point),
            ]
        )
    shown = min(top, len(trends.test_changes))
    header = (
        f"test duration change points (call time of passes, {trends.test_runs} runs, "
        f"{trends.tests_judged} tests judged; the largest {shown} of "
        f"{len(trends.test_changes)}):"
    )
    return [header, *_table(rows)]


def format_trends(trends: Trends, request: TrendsRequest) -> list[str]:
    lines = _perf_lines(trends, request.kinds, PERF_POLICY.min_runs)
    if request.top_tests:
        lines += ["", *_test_lines(trends, request.top_tests, DURATION_POLICY.min_runs)]
    return lines


def _test_series(rows: Mapping[str, Sequence[tuple[str, float, float]]]) -> dict[str, list[Point]]:
    return {
        nodeid: [Point(run_id, at, seconds) for run_id, at, seconds in runs]
        for nodeid, runs in rows.items()
    }


def trends(request: TrendsRequest) -> int:
    if request.history is None:
        print("perf trends: TESTKIT_HISTORY is off: there is no history to read", flush=True)
        return 0
    if not request.history.exists():
        print(
            f"perf trends: no history at {request.history} yet: make test records the test "
            f"runs; {RECORDED_BY}",
            flush=True,
        )
        return 0
    try:
        store = open_history(request.history, create=False)
    except HistoryError as error:
        print(f"perf trends: {error}", flush=True)
        return 2
    try:
        perf = perf_series(store, kinds=request.kinds)
        counts = perf_run_counts(store, kinds=request.kinds)
        rows = store.passing_call_series(last_runs=request.test_runs)
        test_runs = len({run_id for runs in rows.values() for run_id, _, _ in runs})
    finally:
        store.close()
    try:
        found = find_trends(perf, counts, _test_series(rows), test_runs)
    except ChangePointsUnavailable as error:
        print(f"perf trends: {error}", flush=True)
        return 3
    print("\n".join(format_trends(found, request)), flush=True)
    return 0


def request_from(arguments: argparse.Namespace) -> TrendsRequest:
    root = Path.cwd()
    raw = arguments.history or options.env_setting(options.HISTORY)
    return TrendsRequest(
        history=resolve_history_path(raw, root),
        kinds=tuple(dict.fromkeys(arguments.kind or SINGLE_SERVER_KINDS)),
        test_runs=arguments.test_runs,
        top_tests=arguments.tests,
    )


def run(arguments: argparse.Namespace) -> int:
    return trends(request_from(arguments))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`trends` under `testkit perf`; its handler is `run`."""
    parser = subparsers.add_parser(
        "trends",
        help="change points in the recorded perf runs and test durations, with commit ranges",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kind",
        action="append",
        choices=KINDS,
        help="perf runs to read, repeatable (default: run, baseline and gate; perf-ab's "
        "two-server runs only when asked for)",
    )
    parser.add_argument(
        "--tests",
        type=non_negative_int,
        default=DEFAULT_TOP_TESTS,
        help=f"test duration change points to list, the largest first (default "
        f"{DEFAULT_TOP_TESTS}; 0: none)",
    )
    parser.add_argument(
        "--test-runs",
        type=positive_int,
        default=DEFAULT_TEST_RUNS,
        help=f"newest finished test runs to read (default {DEFAULT_TEST_RUNS})",
    )
    parser.add_argument(
        "--history",
        default=None,
        help=f"history file (default: env {options.HISTORY.env} or .testkit/history.db)",
    )
    parser.set_defaults(handler=run)
    return cast(argparse.ArgumentParser, parser)
