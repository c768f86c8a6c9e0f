"""Perf runs in the history file: recorded from a summary, read back as series per metric."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testkit.analytics.history import open_history
from testkit.analytics.perf_history import (
    SeriesKey,
    perf_run_counts,
    perf_series,
    record_in_history,
    record_perf_summary,
)


def figures(p50: float, *, requests: int = 1000) -> dict[str, Any]:
    return {
        "requests": requests,
        "failures": 0,
        "error_rate": 0.0,
        "rps": 50.0,
        "p50_ms": p50,
        "p95_ms": 3 * p50,
        "p99_ms": None if requests < 100 else 5 * p50,
    }


def summary(
    p50: float,
    *,
    commit: str | None = "a" * 40,
    dirty: bool = False,
    created_at: str = "2026-11-20T10:00:00+00:00",
    endpoint_requests: int = 1000,
) -> dict[str, Any]:
    """A summary as testkit.perf.summary.summary() writes it."""
    return {
        "profile": "smoke",
        "duration_s": 10.0,
        "users": 5,
        "total": figures(p50),
        "endpoints": {"GET /search": figures(2 * p50, requests=endpoint_requests)},
        "rounds": [],
        "metadata": {"commit": commit, "dirty": dirty, "created_at": created_at, "machine": {}},
    }


def test_recorded_summaries_read_back_as_series_oldest_first_labelled_with_commits(
    tmp_path: Path,
) -> None:
    history = tmp_path / ".testkit" / "history.db"
    # Recorded out of order: the series follow created_at.
    record_perf_summary(
        history, summary(12.0, commit="b" * 40, created_at="2026-11-21T10:00:00+00:00"), kind="run"
    )
    record_perf_summary(history, summary(10.0), kind="gate")
    record_perf_summary(
        history,
        summary(11.0, commit="c" * 40, dirty=True, created_at="2026-11-22T10:00:00Z"),
        kind="baseline",
    )

    store = open_history(history, create=False)
    series = perf_series(store)

    p50 = series[SeriesKey("smoke", "total", "p50_ms")]
    assert [(p.label, p.value) for p in p50] == [
        ("a" * 12, 10.0),
        ("b" * 12, 12.0),
        ("c" * 12 + "-dirty", 11.0),
    ]
    assert [p.value for p in series[SeriesKey("smoke", "GET /search", "p95_ms")]] == [60, 72, 66]
    assert {key.metric for key in series} == {"p50_ms", "p95_ms", "p99_ms", "rps"}
    assert perf_run_counts(store, kinds=("run", "gate", "baseline")) == {"smoke": 3}
    row = store.connection.execute("SELECT summary FROM perf_runs WHERE kind = 'gate'").fetchone()
    assert json.loads(row[0])["total"]["p50_ms"] == 10.0
    store.close()


def test_perf_ab_runs_form_series_of_their_own(tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    record_perf_summary(history, summary(10.0), kind="run")
    record_perf_summary(history, summary(20.0), kind="ab")

    store = open_history(history, create=False)

    single = perf_series(store)[SeriesKey("smoke", "total", "p50_ms")]
    paired = perf_series(store, kinds=("ab",))[SeriesKey("smoke", "total", "p50_ms")]
    assert [p.value for p in single] == [10.0]
    assert [p.value for p in paired] == [20.0]
    store.close()


def test_a_percentile_over_too_few_requests_is_left_out_as_the_gate_leaves_it(
    tmp_path: Path,
) -> None:
    """60 requests: the p50 has 30 beyond it, the p95 three (fewer than the gate's five)."""
    history = tmp_path / "history.db"
    record_perf_summary(history, summary(10.0, endpoint_requests=60), kind="run")

    store = open_history(history, create=False)
    metrics = {key.metric for key in perf_series(store) if key.scope == "GET /search"}

    assert metrics == {"p50_ms", "rps"}
    store.close()


def test_an_unknown_kind_is_refused_naming_the_kinds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be one of run, baseline, gate, ab, got 'nightly'"):
        record_perf_summary(tmp_path / "history.db", summary(10.0), kind="nightly")
    assert not (tmp_path / "history.db").exists()


def test_a_summary_without_a_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs its profile name, got None"):
        record_perf_summary(tmp_path / "h.db", {"total": figures(1.0)}, kind="run")


def test_record_in_history_uses_testkit_history_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TESTKIT_HISTORY", raising=False)

    line = record_in_history(tmp_path, summary(10.0), kind="gate")

    assert line == (
        "perf: recorded in .testkit/history.db (make perf-trends lists its change points)"
    )
    assert (tmp_path / ".testkit" / "history.db").is_file()
    monkeypatch.setenv("TESTKIT_HISTORY", "off")
    assert "TESTKIT_HISTORY is off" in record_in_history(tmp_path, summary(10.0), kind="gate")


def test_record_in_history_reports_a_foreign_file_instead_of_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.db").write_text("not a database")
    monkeypatch.setenv("TESTKIT_HISTORY", "mine.db")

    line = record_in_history(tmp_path, summary(10.0), kind="run")

    assert line.startswith("perf: not recorded in the history: ")
    assert "not an SQLite file" in line
    assert (tmp_path / "mine.db").read_text() == "not a database"
