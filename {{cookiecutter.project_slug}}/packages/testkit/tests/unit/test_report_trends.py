"""Change points on the dashboard's trend charts: a dashed line where the level moved."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("ruptures", reason="the analytics extra (ruptures) is not installed")

from testkit.analytics.changepoints import Point
from testkit.analytics.history import Result, Run
from testkit.analytics.perf_history import SeriesKey
from testkit.analytics.report_data import HistoryData
from testkit.analytics.report_panels import when
from testkit.analytics.report_trends import (
    COLORWAY,
    Mark,
    duration_trend_panel,
    marked,
    perf_trend_panel,
)

SLOW = "tests/e2e/test_journey.py::test_checkout"
FAST = "tests/unit/test_fast.py::test_x"


def history(slow_calls: list[float]) -> HistoryData:
    rng = random.Random(4)
    runs = tuple(
        Run(f"run-{i:02d}", 1_700_000_000.0 + 3600 * i, None, 1, "MOCK", "all", "fp", "[]", 0, 0)
        for i in range(len(slow_calls))
    )
    results = {
        run.run_id: [
            Result(run.run_id, SLOW, "passed", 0, 0.2, seconds * rng.gauss(1, 0.03), 0.1, "m", 0),
            Result(run.run_id, FAST, "passed", 0, 0.0, 0.01, 0.0, "m", 1),
        ]
        for run, seconds in zip(runs, slow_calls, strict=True)
    }  # fmt: skip
    return HistoryData(runs, results)


def test_the_duration_chart_marks_a_tests_new_level_at_its_first_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = history([1.0] * 14 + [1.5] * 8)

    panel = duration_trend_panel(data)

    assert panel.figure is not None
    layout = panel.figure["layout"]
    (shape,) = layout["shapes"]
    assert shape["x0"] == shape["x1"] == when(data.runs[14])
    assert shape["line"]["color"] == COLORWAY[0]  # the slowest test is the first trace
    (annotation,) = layout["annotations"]
    assert 40 <= int(annotation["text"].removesuffix("%")) <= 60  # a +50 % step
    assert "runs run-13..run-14" in annotation["hovertext"]
    assert panel.table[0] == ("test", "runs (last before..first after)", "call time", "change")
    assert panel.table[1][:2] == (SLOW, "run-13..run-14")
    assert "change points of the call time (1)" in panel.note


def test_a_steady_duration_chart_has_no_marks_and_no_table() -> None:
    panel = duration_trend_panel(history([1.0] * 22))

    assert panel.figure is not None
    assert panel.figure["layout"]["shapes"] == []
    assert panel.table == ()
    assert [trace["name"] for trace in panel.figure["data"]] == [SLOW, FAST]


def test_the_perf_trend_chart_marks_the_change_with_its_commit_range() -> None:
    rng = random.Random(9)
    p50 = [
        Point(f"{i:02d}commit", 1_700_000_000.0 + 3600 * i, level * (1 + rng.gauss(0, 0.03)))
        for i, level in enumerate([10.0] * 15 + [13.0] * 10)
    ]
    p95 = [Point(p.label, p.at, 3 * 10.0 * (1 + rng.gauss(0, 0.03))) for p in p50]
    series = {
        SeriesKey("smoke", "total", "p50_ms"): p50,
        SeriesKey("smoke", "total", "p95_ms"): p95,
    }

    panel = perf_trend_panel(series)

    assert panel.figure is not None
    assert [trace["name"] for trace in panel.figure["data"]] == ["smoke p50", "smoke p95"]
    (shape,) = panel.figure["layout"]["shapes"]
    assert shape["line"]["color"] == COLORWAY[0]
    assert panel.table[1][:3] == ("smoke", "p50_ms", "14commit..15commit")
    assert 20 <= int(panel.table[1][4].removesuffix("%")) <= 40  # a +30 % step


def test_no_perf_history_is_a_no_data_panel_naming_the_targets() -> None:
    panel = perf_trend_panel({})

    assert panel.missing is not None
    assert "make perf, make perf-baseline or make performance-gate" in panel.missing


def test_marks_take_their_traces_colour_and_keep_the_figure_unchanged() -> None:
    figure = {"data": [{}, {}], "layout": {"margin": {"t": 20}}}

    drawn = marked(figure, [Mark(1, "2026-11-01 10:00:00", "+20%", "t: 1 -> 1.2")])

    assert drawn["layout"]["colorway"][1] == drawn["layout"]["shapes"][0]["line"]["color"]
    assert drawn["layout"]["annotations"][0]["hovertext"] == "t: 1 -> 1.2"
    assert figure["layout"] == {"margin": {"t": 20}}
