"""`make report` / `testkit report`: reports/index.html, the test dashboard.

Panels: duration trends of the slowest tests, the slowest tests of the latest run, outcomes per
run, flaky and quarantined tests (from .testkit/history.db), coverage per package (from
reports/coverage.xml) and performance against the baselines (locust-reports/*/summary.json vs
perf/baselines/*.json). Charts are plotly figures with plotly.js inlined once, so the page works
offline. An input that is missing gives a "no data: run make X" panel, never an error.

Gathering (`gather_*`) returns plain dataclasses; `render_page` turns them into HTML.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import statistics
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from string import Template
from typing import Any

from testkit import options
from testkit.analytics.history import (
    HistoryError,
    Result,
    Run,
    open_history,
    resolve_history_path,
)
from testkit.analytics.quarantine import QuarantineError, load_quarantine

TREND_RUNS = 30
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


def _duration(result: Result) -> float:
    return sum(x or 0.0 for x in (result.setup_s, result.call_s, result.teardown_s))


def _when(run: Run) -> str:
    return dt.datetime.fromtimestamp(run.started_at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- history panels --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryData:
    runs: tuple[Run, ...]  # oldest first
    results: dict[str, list[Result]] = field(default_factory=dict)  # run_id -> results
    flaky: tuple[tuple[str, int, int, int], ...] = ()  # nodeid, fingerprints, passed, failed
    # nodeid, reason, owner, expires, failures recorded
    quarantined: tuple[tuple[str, str, str, str, str], ...] = ()


def gather_history(history: Path, quarantine_file: Path) -> HistoryData | None:
    """The recent runs; None when there is no history to read."""
    if not history.is_file():
        return None
    store = open_history(history, create=False)
    try:
        runs = tuple(reversed(store.recent_runs(TREND_RUNS)))
        if not runs:
            return None
        results: dict[str, list[Result]] = {}
        for result in store.results_of_runs([r.run_id for r in runs]):
            results.setdefault(result.run_id, []).append(result)
        counts = store.outcomes_by_fingerprint()
    finally:
        store.close()
    per_test: dict[str, tuple[int, int, int]] = {}
    for (nodeid, _), outcome in counts.items():
        if outcome.passed and outcome.failed:
            fingerprints, passed, failed = per_test.get(nodeid, (0, 0, 0))
            per_test[nodeid] = (fingerprints + 1, passed + outcome.passed, failed + outcome.failed)
    flaky = tuple(sorted(((n, *tally) for n, tally in per_test.items()), key=lambda row: -row[3]))
    quarantined_failures: dict[str, int] = {}
    for run_results in results.values():
        for result in run_results:
            if result.quarantined:
                failed = result.outcome in {"failed", "error"}
                quarantined_failures[result.nodeid] = (
                    quarantined_failures.get(result.nodeid, 0) + failed
                )
    rows: list[tuple[str, str, str, str, str]] = []
    listed: set[str] = set()
    try:
        entries = load_quarantine(quarantine_file)
    except QuarantineError as error:
        rows.append((str(quarantine_file), f"unreadable: {error}", "", "", ""))
        entries = ()
    for entry in entries:
        listed.add(entry.nodeid)
        rows.append(
            (
                entry.nodeid,
                entry.reason,
                entry.owner,
                entry.expires.isoformat(),
                str(quarantined_failures.get(entry.nodeid, 0)),
            )
        )
    for nodeid, failures in sorted(quarantined_failures.items()):
        if nodeid not in listed:
            rows.append((nodeid, "quarantined in a recorded run", "", "", str(failures)))
    return HistoryData(runs, results, flaky, tuple(rows))


def trend_panel(data: HistoryData | None) -> Panel:
    title = "Duration trends of the slowest tests"
    if data is None:
        return Panel("trends", title, missing="no data: run make test (writes the history)")
    series: dict[str, list[tuple[str, float]]] = {}
    for run in data.runs:
        for result in data.results.get(run.run_id, []):
            if result.outcome == "passed":
                series.setdefault(result.nodeid, []).append((_when(run), _duration(result)))
    slowest = sorted(series, key=lambda n: -statistics.median(d for _, d in series[n]))
    chosen = slowest[:TREND_TESTS]
    if not chosen:
        return Panel("trends", title, missing="no passing test recorded yet: run make test")
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": _short(nodeid),
            "x": [when for when, _ in series[nodeid]],
            "y": [round(seconds, 4) for _, seconds in series[nodeid]],
        }
        for nodeid in chosen
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
    ranked = sorted(data.results.get(latest.run_id, []), key=lambda r: -_duration(r))[:SLOWEST]
    if not ranked:
        return Panel("slowest", title, missing="the latest run recorded no results: run make test")
    ranked.reverse()  # plotly draws horizontal bars bottom-up
    figure = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [round(_duration(r), 4) for r in ranked],
                "y": [_short(r.nodeid) for r in ranked],
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
    return Panel("slowest", title, figure, table, note=f"run {latest.run_id} at {_when(latest)}")


def outcomes_panel(data: HistoryData | None) -> Panel:
    title = "Outcomes per run"
    if data is None:
        return Panel("outcomes", title, missing="no data: run make test")
    kinds = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
    x = [f"{_when(run)} ({run.run_id[:8]})" for run in data.runs]
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
    if data.flaky:
        figure = {
            "data": [
                {
                    "type": "bar",
                    "name": "failure share",
                    "x": [_short(n) for n, *_ in data.flaky],
                    "y": [round(f / (p + f), 3) for _, _, p, f in data.flaky],
                    "hovertext": [n for n, *_ in data.flaky],
                }
            ],
            "layout": {
                "yaxis": {"title": {"text": "failed / runs"}, "range": [0, 1]},
                "margin": {"t": 20},
            },
        }
        table = (
            ("flaky test", "fingerprints", "passed", "failed"),
            *((n, str(k), str(p), str(f)) for n, k, p, f in data.flaky),
        )
    if data.quarantined:
        table = (
            *table,
            ("quarantined test", "reason", "owner", "expires", "failures recorded"),
            *data.quarantined,
        )
    note = (
        f"{len(data.flaky)} flaky (passed and failed on the same code fingerprint), "
        f"{len(data.quarantined)} quarantined"
    )
    return Panel("flaky", title, figure, table, note=note)


# --- coverage ------------------------------------------------------------------------------


def _package_of(filename: str) -> str:
    """packages/<name>, services/<name>, or the top directory."""
    parts = PurePosixPath(filename.replace("\\", "/")).parts
    if len(parts) >= 2 and parts[0] in {"packages", "services"}:
        return f"{parts[0]}/{parts[1]}"
    return parts[0] if len(parts) > 1 else "(root)"


def gather_coverage(xml_file: Path) -> dict[str, tuple[int, int]] | None:
    """package -> (covered lines, lines), from Cobertura XML; None when absent."""
    if not xml_file.is_file():
        return None
    root = ElementTree.parse(xml_file).getroot()
    sources = [s.text or "" for s in root.iter("source")]
    totals: dict[str, list[int]] = {}
    for cls in root.iter("class"):
        filename = cls.get("filename", "")
        path = filename
        for source in sources:
            candidate = Path(source) / filename
            try:
                path = candidate.resolve().relative_to(xml_file.resolve().parents[1]).as_posix()
                break
            except ValueError:
                continue
        lines = list(cls.iter("line"))
        tally = totals.setdefault(_package_of(path), [0, 0])
        tally[0] += sum(1 for line in lines if int(line.get("hits", "0")) > 0)
        tally[1] += len(lines)
    return {package: (c, t) for package, (c, t) in sorted(totals.items())}


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


def gather_perf(
    locust_dir: Path, baselines_dir: Path
) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """profile -> (current summary, baseline or None)."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for summary_file in sorted(locust_dir.glob("*/summary.json")):
        try:
            summary = json.loads(summary_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        profile = str(summary.get("profile") or summary_file.parent.name)
        baseline_file = baselines_dir / f"{profile}.json"
        baseline = None
        if baseline_file.is_file():
            try:
                baseline = json.loads(baseline_file.read_text())
            except (OSError, json.JSONDecodeError):
                baseline = None
        found[profile] = (summary, baseline)
    return found


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


# --- the page ------------------------------------------------------------------------------


def _short(nodeid: str, width: int = 60) -> str:
    return nodeid if len(nodeid) <= width else "…" + nodeid[-(width - 1) :]


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _number(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else ""


# One figure: plotly draws it into its div; the config hides plotly's logo and follows the width.
PLOT_SCRIPT = Template(
    "<script>(function (figure) { Plotly.newPlot($chart, figure.data, figure.layout, "
    '{"displaylogo": false, "responsive": true}); })($figure);</script>'
)

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
section { margin-bottom: 2.5rem; }
.missing { padding: 1rem; background: #fff4e5; border-left: 4px solid #e67e22; }
.note { color: #666; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; }
.chart { width: 100%; height: 420px; }
</style>
<script>$plotly</script>
</head>
<body>
<h1>$title</h1>
<p class="note">Built $built from $sources.</p>
$sections
</body>
</html>
""")


def _table_html(rows: Sequence[Sequence[str]]) -> str:
    out = ["<table>"]
    for row in rows:
        # A row that starts a new block repeats a header: written as th cells.
        is_header = row is rows[0] or row[0] in {"quarantined test"}
        cell = "th" if is_header else "td"
        out.append("<tr>" + "".join(f"<{cell}>{html.escape(c)}</{cell}>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_page(panels: Sequence[Panel], *, sources: str, plotly_js: str) -> str:
    sections = []
    for panel in panels:
        body = [
            f'<section id="{panel.key}" data-panel="{panel.key}">',
            f"<h2>{html.escape(panel.title)}</h2>",
        ]
        if panel.missing is not None:
            body.append(f'<div class="missing">{html.escape(panel.missing)}</div>')
        else:
            if panel.note:
                body.append(f'<p class="note">{html.escape(panel.note)}</p>')
            if panel.figure is not None:
                chart_id = f"chart-{panel.key}"
                spec = json.dumps(panel.figure).replace("</", "<\\/")
                body.append(f'<div class="chart" id="{chart_id}"></div>')
                body.append(PLOT_SCRIPT.substitute(chart=json.dumps(chart_id), figure=spec))
            if panel.table:
                body.append(_table_html(panel.table))
            if panel.figure is None and not panel.table:
                body.append('<p class="note">nothing to report</p>')
        body.append("</section>")
        sections.append("\n".join(body))
    return PAGE.substitute(
        title="Test dashboard",
        built=dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sources=html.escape(sources),
        plotly=plotly_js.replace("</script", "<\\/script"),
        sections="\n".join(sections),
    )


@dataclass(frozen=True, slots=True)
class ReportInputs:
    root: Path
    history: Path | None
    quarantine: Path
    coverage_xml: Path
    locust_dir: Path
    baselines_dir: Path
    output: Path


def _coverage_threshold(root: Path) -> float | None:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    value = (
        tomllib.loads(pyproject.read_text())
        .get("tool", {})
        .get("testkit", {})
        .get("coverage_threshold")
    )
    return float(value) if isinstance(value, int | float) else None


def build_report(inputs: ReportInputs) -> list[Panel]:
    """Gather every input, write the page; returns the panels (for the CLI's summary)."""
    from plotly.offline import get_plotlyjs  # the `report` extra

    history = None
    history_problem = None
    if inputs.history is not None:
        try:
            history = gather_history(inputs.history, inputs.quarantine)
        except HistoryError as error:
            history_problem = str(error)
    panels = [
        trend_panel(history),
        slowest_panel(history),
        outcomes_panel(history),
        flaky_panel(history),
        coverage_panel(gather_coverage(inputs.coverage_xml), _coverage_threshold(inputs.root)),
        perf_panel(gather_perf(inputs.locust_dir, inputs.baselines_dir)),
    ]
    if history_problem is not None:
        panels = [
            Panel(p.key, p.title, missing=f"history unreadable: {history_problem}")
            if p.key in {"trends", "slowest", "outcomes", "flaky"}
            else p
            for p in panels
        ]
    sources = ", ".join(
        str(p.relative_to(inputs.root)) if p.is_relative_to(inputs.root) else str(p)
        for p in (inputs.history, inputs.coverage_xml, inputs.locust_dir, inputs.baselines_dir)
        if p is not None
    )
    inputs.output.parent.mkdir(parents=True, exist_ok=True)
    inputs.output.write_text(render_page(panels, sources=sources, plotly_js=get_plotlyjs()))
    return panels


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="build reports/index.html: durations, flaky tests, coverage, perf vs baseline",
        description="Build the HTML dashboard from the history, coverage XML and perf "
        "summaries; a missing input becomes a 'no data' panel.",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: .)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="the page (default: reports/index.html under the root)",
    )
    parser.add_argument(
        "--history",
        default=None,
        help=f"history file (default: env {options.HISTORY.env} or .testkit/history.db)",
    )
    parser.set_defaults(handler=run_report)


def run_report(arguments: argparse.Namespace) -> int:
    root = Path(arguments.root).resolve()
    raw_history = arguments.history or options.env_setting(options.HISTORY)
    inputs = ReportInputs(
        root=root,
        history=resolve_history_path(raw_history, root),
        quarantine=root / "tests" / "quarantine.toml",
        coverage_xml=root / "reports" / "coverage.xml",
        locust_dir=root / "locust-reports",
        baselines_dir=root / "perf" / "baselines",
        output=arguments.output or root / "reports" / "index.html",
    )
    print("testkit report: reading history, coverage and perf summaries...", flush=True)
    try:
        panels = build_report(inputs)
    except ImportError as error:
        print(f"testkit report: needs plotly (testkit[report]): {error}", file=sys.stderr)
        return 1
    for panel in panels:
        print(f"  {panel.title}: {panel.missing or 'ok'}")
    print(f"testkit report: wrote {inputs.output}")
    return 0
