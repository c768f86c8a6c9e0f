"""What the dashboard reads: the history (runs, results, flaky and quarantined tests, perf
runs), coverage XML and the perf summaries against their baselines. Each `gather_*` returns plain
data, or None when its input is missing; testkit.analytics.report_panels draws it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from testkit.analytics.changepoints import Point
from testkit.analytics.flaky import GATE_WINDOW_RUNS
from testkit.analytics.flaky_history import HistoryVerdict, histories, judge_all
from testkit.analytics.history import Result, Run, open_history
from testkit.analytics.perf_history import SeriesKey, perf_series
from testkit.analytics.quarantine import QuarantineError, load_quarantine
from testkit.mutation.history import score_series
from testkit.perf.gate import TOTAL
from testkit.project_settings import ProjectSettingsError, read_project_settings

TREND_RUNS = 30
PERF_TREND_RUNS = 100  # newest perf runs per series on the perf trend chart
PERF_TREND_METRICS = ("p50_ms", "p95_ms")


@dataclass(frozen=True, slots=True)
class HistoryData:
    runs: tuple[Run, ...]  # oldest first
    results: dict[str, list[Result]] = field(default_factory=dict)  # run_id -> results
    # the flaky tests by the history rule (flaky_history, as the gate), most failures first
    flaky: tuple[HistoryVerdict, ...] = ()
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
        verdicts = judge_all(histories(store.pass_fail_sequence(last_runs=GATE_WINDOW_RUNS)))
    finally:
        store.close()
    flaky = tuple(
        sorted(
            (verdict for verdict in verdicts.values() if verdict.verdict == "flaky"),
            key=lambda verdict: (-verdict.failures, verdict.nodeid),
        )
    )
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


def gather_perf_trends(history: Path) -> dict[SeriesKey, tuple[Point, ...]]:
    """(profile, total, p50/p95) -> the newest perf runs, oldest first; {} when none."""
    if not history.is_file():
        return {}
    store = open_history(history, create=False)
    try:
        series = perf_series(store, metrics=PERF_TREND_METRICS)
    finally:
        store.close()
    return {key: points[-PERF_TREND_RUNS:] for key, points in series.items() if key.scope == TOTAL}


def gather_mutation_scores(history: Path) -> tuple[Point, ...]:
    """The nightly mutation scores, oldest first; () when none."""
    if not history.is_file():
        return ()
    store = open_history(history, create=False)
    try:
        return score_series(store)
    finally:
        store.close()


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


def coverage_threshold(root: Path) -> float | None:
    """The coverage gate's floor; None when [tool.testkit] cannot be read (the gate says why)."""
    try:
        return read_project_settings(root / "pyproject.toml").number("coverage_threshold")
    except ProjectSettingsError:
        return None
