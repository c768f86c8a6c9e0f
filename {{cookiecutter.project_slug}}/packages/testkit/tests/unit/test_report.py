"""The dashboard's data side: missing inputs become 'no data' panels; inputs become figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.analytics.history import Run, open_history
from testkit.analytics.report import ReportInputs, build_report
from testkit.analytics.report_data import gather_coverage, gather_history, gather_perf
from testkit.analytics.report_page import render_page
from testkit.analytics.report_panels import Panel, coverage_panel, flaky_panel, perf_panel


def empty_inputs(root: Path) -> ReportInputs:
    return ReportInputs(
        root=root,
        history=root / ".testkit" / "history.db",
        quarantine=root / "tests" / "quarantine.toml",
        coverage_xml=root / "reports" / "coverage.xml",
        locust_dir=root / "locust-reports",
        baselines_dir=root / "perf" / "baselines",
        output=root / "reports" / "index.html",
    )


def test_every_missing_input_becomes_a_no_data_panel_naming_the_make_target(
    tmp_path: Path,
) -> None:
    pytest.importorskip("plotly", reason="the report extra is not installed")
    inputs = empty_inputs(tmp_path)

    panels = build_report(inputs)

    missing = {panel.key: panel.missing for panel in panels}
    assert missing["trends"] == "no data: run make test (writes the history)"
    assert "make test-coverage" in str(missing["coverage"])
    assert "make perf" in str(missing["perf"])
    assert "make performance-gate" in str(missing["perf-trends"])
    page = inputs.output.read_text()
    assert page.count('class="missing"') == len(panels)
    assert "<script src=" not in page  # plotly.js is inline: the page works offline


def test_a_foreign_history_file_is_reported_in_the_panels_not_raised(tmp_path: Path) -> None:
    pytest.importorskip("plotly", reason="the report extra is not installed")
    inputs = empty_inputs(tmp_path)
    assert inputs.history is not None
    inputs.history.parent.mkdir(parents=True)
    inputs.history.write_text("not a database")

    panels = build_report(inputs)

    for key in ("trends", "perf-trends"):
        panel = next(p for p in panels if p.key == key)
        assert str(panel.missing).startswith("history unreadable:")


def test_the_flaky_panel_judges_the_history_as_the_flakiness_gate_does(tmp_path: Path) -> None:
    history = tmp_path / ".testkit" / "history.db"
    history.parent.mkdir()
    store = open_history(history, create=True)
    outcomes = {  # per run, oldest first, all on one code fingerprint
        "tests/a.py::test_flaky": ["passed", "failed", "passed", "passed"],
        "tests/a.py::test_broken_now": ["passed", "passed", "failed", "failed"],
        "tests/a.py::test_fine": ["passed"] * 4,
    }
    for index in range(4):
        run_id = f"run-{index}"
        store.start_run(Run(run_id, 1000.0 + index, None, 1, "MOCK", "all", "fp", "[]", 0, None))
        store.add_results(
            [
                (run_id, nodeid, runs[index], 0, 0.0, 0.01, 0.0, "master", position)
                for position, (nodeid, runs) in enumerate(outcomes.items())
            ]
        )
        store.finish_run(run_id, 1000.5 + index, 0)
    store.close()

    data = gather_history(history, tmp_path / "tests" / "quarantine.toml")

    assert data is not None
    # A regression (its newest results fail) is not flaky, whatever it did before.
    assert [v.nodeid for v in data.flaky] == ["tests/a.py::test_flaky"]
    panel = flaky_panel(data)
    assert panel.table[0] == ("flaky test", "results", "failed", "failure rate (95% CI)")
    assert panel.table[1][:3] == ("tests/a.py::test_flaky", "4", "1")
    assert panel.note is not None
    assert panel.note.startswith("1 flaky (failed, then passed on its unchanged code")


def test_coverage_is_summed_per_package(tmp_path: Path) -> None:
    xml = tmp_path / "reports" / "coverage.xml"
    xml.parent.mkdir()
    xml.write_text(
        f"""<coverage><sources><source>{tmp_path}</source></sources><packages><package>
        <classes>
        <class filename="services/api/src/app/a.py"><lines>
          <line number="1" hits="1"/><line number="2" hits="0"/></lines></class>
        <class filename="services/api/src/app/b.py"><lines>
          <line number="1" hits="3"/><line number="2" hits="1"/></lines></class>
        <class filename="packages/testkit/src/testkit/c.py"><lines>
          <line number="1" hits="0"/></lines></class>
        </classes></package></packages></coverage>"""
    )

    data = gather_coverage(xml)

    assert data == {"packages/testkit": (0, 1), "services/api": (3, 4)}
    panel = coverage_panel(data, threshold=80.0)
    assert panel.figure is not None
    assert panel.figure["data"][0]["y"] == [0.0, 75.0]
    assert panel.table[-1] == ("services/api", "3", "4", "75.0")


def test_perf_compares_each_profile_with_its_baseline(tmp_path: Path) -> None:
    def summary(p50: float) -> dict[str, object]:
        total = {
            "p50_ms": p50,
            "p95_ms": 2 * p50,
            "p99_ms": 3 * p50,
            "rps": 50.0,
            "error_rate": 0.0,
        }
        return {"profile": "smoke", "total": total, "endpoints": {}}

    (tmp_path / "locust" / "smoke").mkdir(parents=True)
    (tmp_path / "locust" / "smoke" / "summary.json").write_text(json.dumps(summary(11.0)))
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "smoke.json").write_text(json.dumps(summary(10.0)))

    panel = perf_panel(gather_perf(tmp_path / "locust", tmp_path / "baselines"))

    assert ("smoke", "p50_ms", "10.00", "11.00", "+10.0%") in panel.table
    assert panel.figure is not None
    assert len(panel.figure["data"]) == 2


def test_the_page_escapes_test_names(tmp_path: Path) -> None:
    page = render_page(
        [Panel("slowest", "Slowest", table=(("test",), ("tests/x.py::test[<script>]",)))],
        sources="here",
        plotly_js="",
    )

    assert "test[&lt;script&gt;]" in page
    assert "<script>]" not in page
