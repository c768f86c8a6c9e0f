"""Perf runs in the history file: every `testkit perf` summary, read back as series.

`record_perf_summary` stores one summary (testkit.perf.summary's dict: profile, total,
endpoints, metadata with commit, dirty and created_at) in the history file, creating or
migrating it (tables `perf_runs` and `perf_figures`, schema version 2 of
testkit.analytics.history). `record_in_history` is what the perf commands call: it finds the
file the way the pytest plugin does (TESTKIT_HISTORY, default .testkit/history.db; off: nothing
recorded) and answers with one line to print. `perf_series` reads one series per (profile,
scope, metric), oldest first, each point labelled with its commit, for the change-point
detector (testkit.analytics.changepoints).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.analytics.changepoints import Point
from testkit.analytics.history import HistoryStore, open_history, record_in_project_history
from testkit.perf.gate import (
    DEFAULT_TAIL_REQUESTS,
    LATENCY_METRICS,
    PERCENTILE_OF,
    THROUGHPUT,
    TOTAL,
)

KINDS = ("run", "baseline", "gate", "ab")
# Runs of one server are comparable with each other. perf-ab loads two servers at once (the
# machine carries twice the users), so its figures are kept apart unless asked for.
SINGLE_SERVER_KINDS = ("run", "baseline", "gate")
TREND_METRICS = (*LATENCY_METRICS, THROUGHPUT)
COMMIT_LENGTH = 12


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    profile: str
    scope: str  # "total" or an endpoint ("GET /search")
    metric: str  # p50_ms, p95_ms, p99_ms, rps


def _recorded_at(meta: Mapping[str, Any]) -> float:
    raw = meta.get("created_at")
    if isinstance(raw, str):
        try:
            stamp = dt.datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()
    return time.time()


def _figures(summary: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """(scope, metric, value) of every number in the summary's total and endpoints."""
    scopes: dict[str, Any] = {TOTAL: summary.get("total")}
    endpoints = summary.get("endpoints") or {}
    if not isinstance(endpoints, Mapping):
        raise ValueError(f"a perf summary's endpoints must be a mapping, got {endpoints!r}")
    scopes.update(endpoints)
    rows = []
    for scope, figures in scopes.items():
        if not isinstance(figures, Mapping):
            raise ValueError(
                f"a perf summary's {scope!r} figures must be a mapping of metric to number, "
                f"got {figures!r}"
            )
        for metric, value in figures.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and math.isfinite(value):
                rows.append((str(scope), str(metric), float(value)))
    return rows


def record_perf_summary(history_path: Path, summary: Mapping[str, Any], *, kind: str) -> None:
    """Store one perf summary; ValueError for a bad kind or summary, HistoryError for the file."""
    if kind not in KINDS:
        raise ValueError(f"perf history kind must be one of {', '.join(KINDS)}, got {kind!r}")
    profile = summary.get("profile")
    if not isinstance(profile, str) or not profile:
        raise ValueError(f"a perf summary needs its profile name, got {profile!r}")
    meta = summary.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise ValueError(f"a perf summary's metadata must be a mapping, got {meta!r}")
    figures = _figures(summary)
    commit = meta.get("commit")
    store = open_history(history_path, create=True)
    try:
        with store.connection:
            cursor = store.connection.execute(
                "INSERT INTO perf_runs (recorded_at, kind, profile, commit_id, dirty, summary)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _recorded_at(meta),
                    kind,
                    profile,
                    commit if isinstance(commit, str) else None,
                    int(bool(meta.get("dirty"))),
                    json.dumps(summary, sort_keys=True, default=str),
                ),
            )
            store.connection.executemany(
                "INSERT INTO perf_figures VALUES (?, ?, ?, ?)",
                [(cursor.lastrowid, scope, metric, value) for scope, metric, value in figures],
            )
    finally:
        store.close()


def record_in_history(root: Path, summary: Mapping[str, Any], *, kind: str) -> str:
    """Record the summary in the project's history; one line saying where, or why not."""
    recorded, line = record_in_project_history(
        root, lambda path: record_perf_summary(path, summary, kind=kind)
    )
    return f"perf: {line}" + (" (make perf-trends lists its change points)" if recorded else "")


def commit_label(commit: str | None, dirty: bool) -> str:
    """A short commit as `git describe --dirty` writes it; '(no git)' outside a repository."""
    if commit is None:
        return "(no git)"
    return commit[:COMMIT_LENGTH] + ("-dirty" if dirty else "")


def _percentile_is_thin(metric: str, requests: float | None) -> bool:
    """As the gate judges it: too few requests beyond the percentile to be a figure at all."""
    if metric not in PERCENTILE_OF or requests is None:
        return False
    return requests * (100.0 - PERCENTILE_OF[metric]) / 100.0 < DEFAULT_TAIL_REQUESTS


def perf_series(
    store: HistoryStore,
    *,
    kinds: Collection[str] = SINGLE_SERVER_KINDS,
    metrics: Collection[str] = TREND_METRICS,
) -> dict[SeriesKey, tuple[Point, ...]]:
    """(profile, scope, metric) -> its values, oldest first, labelled with their commits.

    A percentile measured over too few requests (see the gate) is left out of its series.
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"perf history kinds must be among {', '.join(KINDS)}, got {unknown}")
    marks = ",".join("?" * len(kinds))
    rows = store.connection.execute(
        "SELECT perf_run, recorded_at, profile, commit_id, dirty, scope, metric, value"
        " FROM perf_runs JOIN perf_figures USING (perf_run)"
        f" WHERE kind IN ({marks}) ORDER BY recorded_at, perf_run",
        tuple(kinds),
    ).fetchall()
    requests = {
        (run, scope): value
        for run, _, _, _, _, scope, metric, value in rows
        if metric == "requests"
    }
    series: dict[SeriesKey, list[Point]] = {}
    for run, at, profile, commit, dirty, scope, metric, value in rows:
        if metric not in metrics or _percentile_is_thin(metric, requests.get((run, scope))):
            continue
        point = Point(commit_label(commit, bool(dirty)), at, value)
        series.setdefault(SeriesKey(profile, scope, metric), []).append(point)
    return {key: tuple(points) for key, points in sorted(series.items())}


def perf_run_counts(store: HistoryStore, *, kinds: Collection[str]) -> dict[str, int]:
    """profile -> recorded perf runs of those kinds."""
    marks = ",".join("?" * len(kinds))
    rows = store.connection.execute(
        f"SELECT profile, COUNT(*) FROM perf_runs WHERE kind IN ({marks}) GROUP BY profile",
        tuple(kinds),
    )
    return {profile: count for profile, count in rows}
