"""`testkit gates` adds its verdicts to the metrics: one testkit_gate_passed series per gate
judged, and line coverage with its threshold when the coverage gate was judged.

They go into reports/metrics.prom beside the last test run's metrics (replacing the previous
verdicts), and to the Pushgateway as group scope="gates" when TESTKIT_PUSHGATEWAY_URL is set.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric

from testkit import report_files
from testkit.gates import GateResult
from testkit.monitoring.push import push
from testkit.monitoring.run_metrics import parse, render, replace_families

SCOPE = "gates"


def coverage_percent(coverage_xml: Path) -> float | None:
    """Line coverage of a Cobertura report (lines-covered / lines-valid); None if unknown."""
    try:
        root = ElementTree.parse(coverage_xml).getroot()
        valid, covered = int(root.get("lines-valid", "")), int(root.get("lines-covered", ""))
    except (OSError, ElementTree.ParseError, ValueError):
        return None
    return 100.0 * covered / valid if valid > 0 else None


def gate_families(
    results: Sequence[GateResult], coverage: float | None, threshold: float
) -> list[Metric]:
    """testkit_gate_passed{gate} (1 or 0); coverage and its threshold when coverage is known."""
    passed = GaugeMetricFamily(
        "testkit_gate_passed", "Quality gate verdict: 1 passed, 0 failed.", labels=["gate"]
    )
    for result in results:
        passed.add_metric([result.gate], 1.0 if result.passed else 0.0)
    families: list[Metric] = [passed]
    if coverage is not None:
        families.append(
            GaugeMetricFamily(
                "testkit_coverage_percent", "Line coverage of the suite, percent.", value=coverage
            )
        )
        families.append(
            GaugeMetricFamily(
                "testkit_coverage_threshold_percent",
                "[tool.testkit] coverage_threshold: the coverage gate's floor, percent.",
                value=threshold,
            )
        )
    return families


def record_gate_metrics(
    results: Sequence[GateResult], reports: Path, threshold: float, pushgateway: str | None
) -> str | None:
    """Update reports/metrics.prom and push; the push's error line, if any."""
    judged_coverage = any(result.gate == "coverage" for result in results)
    coverage = coverage_percent(reports / report_files.COVERAGE.name) if judged_coverage else None
    families = gate_families(results, coverage, threshold)
    path = reports / report_files.METRICS.name
    existing = parse(path.read_text(encoding="utf-8")) if path.is_file() else []
    stale = {"testkit_coverage_percent", "testkit_coverage_threshold_percent"}
    kept = [family for family in existing if family.name not in stale]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(replace_families(kept, families)), encoding="utf-8")
    return push(pushgateway, SCOPE, families) if pushgateway else None
