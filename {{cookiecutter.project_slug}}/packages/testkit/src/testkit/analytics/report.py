"""`make report` / `testkit report`: reports/index.html, the test dashboard.

Panels: duration trends of the slowest tests (with their change points), the slowest tests of
the latest run, outcomes per run, flaky and quarantined tests (from .testkit/history.db),
coverage per package (from reports/coverage.xml), performance against the baselines
(locust-reports/*/summary.json vs perf/baselines/*.json) and the perf trends recorded in the
history, with their change points. Charts are plotly figures with plotly.js inlined once, so the
page works offline. An input that is missing gives a "no data: run make X" panel, never an
error.

report_data gathers the inputs into plain data, report_panels and report_trends turn it into
figures and tables, report_page renders the HTML; this module wires them to the command.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit import options, report_files
from testkit.analytics.history import HistoryError, resolve_history_path
from testkit.analytics.report_data import (
    coverage_threshold,
    gather_coverage,
    gather_history,
    gather_mutation_scores,
    gather_perf,
    gather_perf_trends,
)
from testkit.analytics.report_page import render_page
from testkit.analytics.report_panels import (
    Panel,
    coverage_panel,
    flaky_panel,
    outcomes_panel,
    perf_panel,
    slowest_panel,
)
from testkit.analytics.report_trends import (
    duration_trend_panel,
    mutation_panel,
    perf_trend_panel,
)

# Panels drawn from the history file: an unreadable one replaces them all with its reason.
HISTORY_PANELS = frozenset({"trends", "slowest", "outcomes", "flaky", "perf-trends", "mutation"})


@dataclass(frozen=True, slots=True)
class ReportInputs:
    root: Path
    history: Path | None
    quarantine: Path
    coverage_xml: Path
    locust_dir: Path
    baselines_dir: Path
    output: Path


def build_report(inputs: ReportInputs) -> list[Panel]:
    """Gather every input, write the page; returns the panels (for the CLI's summary)."""
    from plotly.offline import get_plotlyjs  # the `report` extra

    history = None
    perf_trends = None
    mutation_scores = None
    history_problem = None
    if inputs.history is not None:
        try:
            history = gather_history(inputs.history, inputs.quarantine)
            perf_trends = gather_perf_trends(inputs.history)
            mutation_scores = gather_mutation_scores(inputs.history)
        except HistoryError as error:
            history_problem = str(error)
    panels = [
        duration_trend_panel(history),
        slowest_panel(history),
        outcomes_panel(history),
        flaky_panel(history),
        coverage_panel(gather_coverage(inputs.coverage_xml), coverage_threshold(inputs.root)),
        perf_panel(gather_perf(inputs.locust_dir, inputs.baselines_dir)),
        perf_trend_panel(perf_trends),
        mutation_panel(mutation_scores),
    ]
    if history_problem is not None:
        panels = [
            Panel(p.key, p.title, missing=f"history unreadable: {history_problem}")
            if p.key in HISTORY_PANELS
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
        help="build reports/index.html: durations, flaky tests, coverage, perf and its trends",
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
        coverage_xml=root / report_files.COVERAGE,
        locust_dir=root / report_files.LOCUST_REPORTS,
        baselines_dir=root / report_files.PERF_BASELINES,
        output=arguments.output or root / report_files.DASHBOARD,
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
