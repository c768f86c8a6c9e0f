"""Change points on the dashboard's trend charts (testkit.analytics.changepoints).

The duration trend chart gets a dashed vertical line, in the test's colour, at the first run of
every new level of a charted test's call time, labelled with the change; a table lists them
with their run ranges. The perf trend chart draws p50 and p95 per recorded perf run of each
profile (total) and marks its change points the same way, labelled and listed with the commit
range (last commit before..first commit after). Without ruptures the charts are drawn unmarked
and the note says why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testkit.analytics.changepoints import (
    DURATION_POLICY,
    PERF_POLICY,
    ChangePoint,
    ChangePointsUnavailable,
    Point,
    detect,
)
from testkit.analytics.perf_history import SeriesKey
from testkit.analytics.report_data import HistoryData
from testkit.analytics.report_panels import Panel, slowest_trends, trend_panel, when

# plotly.js's default colorway, set explicitly so a change point's line matches its trace.
COLORWAY = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
UNAVAILABLE_NOTE = "change points not marked: "
PERF_MISSING = (
    "no data: run make perf, make perf-baseline or make performance-gate "
    "(each records a perf run in the history)"
)


@dataclass(frozen=True, slots=True)
class Mark:
    """One change point to draw: where (the x of the first run after it), in which trace."""

    trace: int
    x: str
    label: str  # short, on the chart: "+32%"
    hover: str  # the series, the range and the medians


def _percent(point: ChangePoint) -> str:
    return f"{100 * point.relative_change:+.0f}%"


def marked(figure: dict[str, Any], marks: Sequence[Mark]) -> dict[str, Any]:
    """A copy of the figure with each trace in its COLORWAY colour and every mark drawn."""
    layout = dict(figure.get("layout", {}))
    layout["colorway"] = list(COLORWAY)
    shapes = list(layout.get("shapes", []))
    annotations = list(layout.get("annotations", []))
    for order, mark in enumerate(marks):
        color = COLORWAY[mark.trace % len(COLORWAY)]
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": mark.x,
                "x1": mark.x,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dash", "color": color, "width": 1.5},
            }
        )
        annotations.append(
            {
                "x": mark.x,
                "xref": "x",
                "y": 1 - 0.07 * (order % 6),
                "yref": "paper",
                "yanchor": "top",
                "xanchor": "left",
                "text": mark.label,
                "hovertext": mark.hover,
                "showarrow": False,
                "font": {"color": color, "size": 11},
                "bgcolor": "rgba(255,255,255,0.8)",
            }
        )
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    return {**figure, "layout": layout}


def duration_trend_panel(data: HistoryData | None) -> Panel:
    """The duration trend panel with the change points of each charted test's call time."""
    panel = trend_panel(data)
    if panel.figure is None or data is None:
        return panel
    marks: list[Mark] = []
    rows: list[tuple[str, ...]] = []
    try:
        for trace, (nodeid, results) in enumerate(slowest_trends(data).items()):
            points = [
                Point(run.run_id, run.started_at, result.call_s)
                for run, result in results
                if result.call_s is not None
            ]
            x_of = {run.run_id: when(run) for run, _ in results}
            for point in detect(points, DURATION_POLICY).change_points:
                span = f"{point.before_median:.3f} -> {point.after_median:.3f} s"
                hover = f"{nodeid}: call {span} ({_percent(point)}), runs {point.span}"
                marks.append(Mark(trace, x_of[point.after.label], _percent(point), hover))
                rows.append((nodeid, point.span, span, _percent(point)))
    except ChangePointsUnavailable as error:
        return dataclasses.replace(panel, note=f"{panel.note}; {UNAVAILABLE_NOTE}{error}")
    note = f"{panel.note}; dashed lines: change points of the call time ({len(marks)})"
    table: tuple[tuple[str, ...], ...] = ()
    if rows:
        table = (("test", "runs (last before..first after)", "call time", "change"), *rows)
    return dataclasses.replace(panel, figure=marked(panel.figure, marks), table=table, note=note)


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def perf_trend_panel(series: Mapping[SeriesKey, Sequence[Point]] | None) -> Panel:
    """p50 and p95 (total) per recorded perf run of each profile, with their change points."""
    title = "Perf trends (p50 and p95 per recorded run)"
    if not series:
        return Panel("perf-trends", title, missing=PERF_MISSING)
    traces = []
    marks: list[Mark] = []
    rows: list[tuple[str, ...]] = []
    problem = ""
    for trace, (key, points) in enumerate(series.items()):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{key.profile} {key.metric.removesuffix('_ms')}",
                "x": [_when(p.at) for p in points],
                "y": [round(p.value, 2) for p in points],
                "hovertext": [f"commit {p.label}" for p in points],
            }
        )
        try:
            found = detect(points, PERF_POLICY).change_points
        except ChangePointsUnavailable as error:
            problem = f"; {UNAVAILABLE_NOTE}{error}"
            continue
        for point in found:
            span = f"{point.before_median:.1f} -> {point.after_median:.1f} ms"
            hover = f"{key.profile} {key.metric}: {span} ({_percent(point)}), commits {point.span}"
            marks.append(Mark(trace, _when(point.after.at), _percent(point), hover))
            rows.append((key.profile, key.metric, point.span, span, _percent(point)))
    figure = {
        "data": traces,
        "layout": {
            "xaxis": {"title": {"text": "run recorded (UTC)"}},
            "yaxis": {"title": {"text": "milliseconds"}},
            "legend": {"orientation": "h", "y": -0.3},
            "margin": {"t": 20},
        },
    }
    table: tuple[tuple[str, ...], ...] = ()
    if rows:
        header = ("profile", "metric", "commits (last before..first after)", "median", "change")
        table = (header, *rows)
    runs = max(len(points) for points in series.values())
    note = (
        f"up to {runs} runs per profile (make perf, perf-baseline, performance-gate); "
        f"dashed lines: change points ({len(marks)}){problem}"
    )
    return Panel("perf-trends", title, marked(figure, marks), table, note=note)


MUTATION_RUNS = 60  # newest nightly scores on the chart


def mutation_panel(points: Sequence[Point] | None) -> Panel:
    """The nightly mutation score (make mutation-score) per recorded run."""
    title = "Mutation score (nightly, every service function)"
    if not points:
        return Panel(
            "mutation",
            title,
            missing="no data: run make mutation-score (records the score in the history)",
        )
    shown = points[-MUTATION_RUNS:]
    figure = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "killed (%)",
                "x": [_when(p.at) for p in shown],
                "y": [round(p.value, 1) for p in shown],
                "hovertext": [f"commit {p.label}" for p in shown],
            }
        ],
        "layout": {
            "xaxis": {"title": {"text": "run recorded (UTC)"}},
            "yaxis": {"title": {"text": "mutants killed (%)"}, "range": [0, 100]},
            "margin": {"t": 20},
        },
    }
    table = (
        ("recorded (UTC)", "commit", "score"),
        *((_when(p.at), p.label, f"{p.value:.1f}%") for p in reversed(shown[-10:])),
    )
    return Panel("mutation", title, figure, table, note=f"{len(shown)} recorded runs")
