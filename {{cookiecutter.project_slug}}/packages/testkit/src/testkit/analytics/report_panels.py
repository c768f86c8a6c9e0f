"""The dashboard's panels: each turns gathered data (testkit.analytics.report_data) into a
plotly figure and/or a table, or says which make target would provide the missing input."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

from testkit.analytics.flaky import GATE_WINDOW_RUNS
from testkit.analytics.history import Result, Run
from testkit.analytics.report_data import HistoryData

TREND_TESTS = 8
SLOWEST = 15


@dataclass(frozen=True, slots=True)
class Panel:
    """One dashboard section: a chart (plotly figure dict) and/or a table, or why it is empty."""

    key: str
    title: str
    figure: dict[str, Any] | None = None
    table: tuple[tuple[str, ...], ...] = ()  # first row is the header
    note: str = ""
    missing: str | None = None  # "no data: run make X"


# --- history panels --------------------------------------------------------------------------


def duration(result: Result) -> float:
    return sum(x or 0.0 for x in (result.setup_s, result.call_s, result.teardown_s))


def when(run: Run) -> str:
    return dt.datetime.fromtimestamp(run.started_at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def slowest_trends(data: HistoryData) -> dict[str, list[tuple[Run, Result]]]:
    """The TREND_TESTS slowest tests (median duration) -> their passing results, oldest first."""
    series: dict[str, list[tuple[Run, Result]]] = {}
    for run in data.runs:
        for result in data.results.get(run.run_id, []):
            if result.outcome == "passed":
                series.setdefault(result.nodeid, []).append((run, result))
    slowest = sorted(series, key=lambda n: -statistics.median(duration(r) for _, r in series[n]))
    return {nodeid: series[nodeid] for nodeid in slowest[:TREND_TESTS]}


def trend_panel(data: HistoryData | None) -> Panel:
    title = "Duration trends of the slowest tests"
    if data is None:
        return Panel("trends", title, missing="no data: run make test (writes the history)")
    chosen = slowest_trends(data)
    if not chosen:
        return Panel("trends", title, missing="no passing test recorded yet: run make test")
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": short(nodeid),
            "x": [when(run) for run, _ in results],
            "y": [round(duration(result), 4) for _, result in results],
        }
        for nodeid, results in chosen.items()
    ]
    figure = {
        "data": traces,
        "layout": {
            "xaxis": {"title": {"text": "run started (UTC)"}},
            "yaxis": {"title": {"text": "seconds (setup + call + teardown)"}},
            "legend": {"orientation": "h", "y": -0.3},
            "margin": {"t": 20},
        },
    }
    return Panel(
        "trends", title, figure, note=f"{len(data.runs)} most recent runs; passing results only"
    )


def slowest_panel(data: HistoryData | None) -> Panel:
    title = "Slowest tests (latest run)"
    if data is None:
        return Panel("slowest", title, missing="no data: run make test")
    latest = data.runs[-1]
    ranked = sorted(data.results.get(latest.run_id, []), key=lambda r: -duration(r))[:SLOWEST]
    if not ranked:
        return Panel("slowest", title, missing="the latest run recorded no results: run make test")
    ranked.reverse()  # plotly draws horizontal bars bottom-up
    figure = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [round(duration(r), 4) for r in ranked],
                "y": [short(r.nodeid) for r in ranked],
                "hovertext": [r.nodeid for r in ranked],
            }
        ],
        "layout": {
            "xaxis": {"title": {"text": "seconds"}},
            "yaxis": {"automargin": True},
            "margin": {"t": 20},
        },
    }
    table = (
        ("test", "outcome", "setup s", "call s", "teardown s", "worker"),
        *(
            (
                r.nodeid,
                r.outcome,
                _seconds(r.setup_s),
                _seconds(r.call_s),
                _seconds(r.teardown_s),
                r.worker,
            )
            for r in reversed(ranked)
        ),
    )
    return Panel("slowest", title, figure, table, note=f"run {latest.run_id} at {when(latest)}")


def outcomes_panel(data: HistoryData | None) -> Panel:
    title = "Outcomes per run"
    if data is None:
        return Panel("outcomes", title, missing="no data: run make test")
    kinds = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
    x = [f"{when(run)} ({run.run_id[:8]})" for run in data.runs]
    traces = [
        {
            "type": "bar",
            "name": kind,
            "x": x,
            "y": [
                sum(r.outcome == kind for r in data.results.get(run.run_id, []))
                for run in data.runs
            ],
        }
        for kind in kinds
    ]
    figure = {"data": traces, "layout": {"barmode": "stack", "margin": {"t": 20}}}
    return Panel("outcomes", title, figure)


def flaky_panel(data: HistoryData | None) -> Panel:
    title = "Flaky and quarantined tests"
    if data is None:
        return Panel("flaky", title, missing="no data: run make test (or make flakiness-report)")
    table: tuple[tuple[str, ...], ...] = ()
    figure = None
    # A flaky verdict carries its rate estimate; the pairs keep the type checker sure of it.
    flaky = [(v.nodeid, v, v.estimate) for v in data.flaky if v.estimate is not None]
    if flaky:
        figure = {
            "data": [
                {
                    "type": "bar",
                    "name": "failure rate",
                    "x": [short(nodeid) for nodeid, _, _ in flaky],
                    "y": [round(e.rate, 3) for _, _, e in flaky],
                    "error_y": {
                        "type": "data",
                        "symmetric": False,
                        "array": [round(e.high - e.rate, 3) for _, _, e in flaky],
                        "arrayminus": [round(e.rate - e.low, 3) for _, _, e in flaky],
                    },
                    "hovertext": [nodeid for nodeid, _, _ in flaky],
                }
            ],
            "layout": {
                "yaxis": {"title": {"text": "failure rate (95% CI)"}, "range": [0, 1]},
                "margin": {"t": 20},
            },
        }
        table = (
            ("flaky test", "results", "failed", "failure rate (95% CI)"),
            *(
                (nodeid, str(v.runs), str(v.failures), f"{e.rate:.1%} ({e.low:.1%}-{e.high:.1%})")
                for nodeid, v, e in flaky
            ),
        )
    if data.quarantined:
        table = (
            *table,
            ("quarantined test", "reason", "owner", "expires", "failures recorded"),
            *data.quarantined,
        )
    note = (
        f"{len(data.flaky)} flaky (failed, then passed on its unchanged code, in the last "
        f"{GATE_WINDOW_RUNS} runs; as the flakiness gate judges), "
        f"{len(data.quarantined)} quarantined"
    )
    return Panel("flaky", title, figure, table, note=note)


# --- coverage ------------------------------------------------------------------------------


def coverage_panel(data: dict[str, tuple[int, int]] | None, threshold: float | None) -> Panel:
    title = "Coverage per package"
    if data is None:
        return Panel(
            "coverage",
            title,
            missing="no data: run make test-coverage (writes reports/coverage.xml)",
        )
    packages = list(data)
    percent = [round(100 * c / t, 1) if t else 0.0 for c, t in data.values()]
    layout: dict[str, Any] = {
        "yaxis": {"title": {"text": "lines covered (%)"}, "range": [0, 100]},
        "margin": {"t": 20},
    }
    if threshold is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": threshold,
                "y1": threshold,
                "line": {"dash": "dash", "color": "#c0392b"},
            }
        ]
    figure = {"data": [{"type": "bar", "x": packages, "y": percent}], "layout": layout}
    table = (
        ("package", "covered lines", "lines", "%"),
        *(
            (p, str(c), str(t), f"{pc:.1f}")
            for p, (c, t), pc in zip(packages, data.values(), percent, strict=True)
        ),
    )
    note = f"threshold {threshold:g}%" if threshold is not None else ""
    return Panel("coverage", title, figure, table, note=note)


# --- performance -----------------------------------------------------------------------------


def perf_panel(data: dict[str, tuple[dict[str, Any], dict[str, Any] | None]]) -> Panel:
    title = "Performance versus baseline"
    if not data:
        return Panel(
            "perf",
            title,
            missing="no data: run make perf (writes "
            "locust-reports/<profile>/summary.json) and make perf-baseline",
        )
    metrics = ("p50_ms", "p95_ms", "p99_ms")
    traces: list[dict[str, Any]] = []
    rows: list[tuple[str, ...]] = [("profile", "metric", "baseline", "now", "change")]
    for profile, (summary, baseline) in data.items():
        now = summary.get("total", {})
        base = (baseline or {}).get("total", {})
        traces.append(
            {
                "type": "bar",
                "name": f"{profile} now",
                "x": list(metrics),
                "y": [now.get(m) for m in metrics],
            }
        )
        if baseline is not None:
            traces.append(
                {
                    "type": "bar",
                    "name": f"{profile} baseline",
                    "x": list(metrics),
                    "y": [base.get(m) for m in metrics],
                }
            )
        for metric in (*metrics, "rps", "error_rate"):
            current, reference = now.get(metric), base.get(metric)
            change = (
                f"{100 * (current - reference) / reference:+.1f}%"
                if isinstance(current, int | float)
                and isinstance(reference, int | float)
                and reference
                else "no baseline"
                if baseline is None
                else ""
            )
            rows.append((profile, metric, _number(reference), _number(current), change))
    figure = {
        "data": traces,
        "layout": {
            "barmode": "group",
            "margin": {"t": 20},
            "yaxis": {"title": {"text": "milliseconds"}},
        },
    }
    return Panel("perf", title, figure, tuple(rows))


def short(nodeid: str, width: int = 60) -> str:
    return nodeid if len(nodeid) <= width else "…" + nodeid[-(width - 1) :]


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _number(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else ""
