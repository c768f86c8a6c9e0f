"""The dashboard as a reader sees it: opened in headless Chromium, charts drawn, nothing fetched.

Uses the system Chromium (Debian's /usr/bin/chromium, or TESTKIT_CHROMIUM) through the Python
playwright package; no browser is downloaded. Without a Chromium the test skips and says so.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from testkit.analytics.history import Run, open_history
from testkit.analytics.perf_history import record_perf_summary
from testkit.analytics.report import ReportInputs, build_report
from testkit.mutation.history import record_score
from testkit.mutation.verdict import Mutant, judge

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHARTS = ("trends", "slowest", "outcomes", "flaky", "coverage", "perf", "perf-trends", "mutation")

COVERAGE_XML = """<?xml version="1.0" ?>
<coverage version="7.6" line-rate="0.75">
  <sources><source>{root}</source></sources>
  <packages>
    <package name="app">
      <classes>
        <class name="a.py" filename="services/api/src/app/a.py">
          <lines>
            <line number="1" hits="1"/><line number="2" hits="1"/><line number="3" hits="0"/>
          </lines>
        </class>
        <class name="b.py" filename="packages/testkit/src/testkit/b.py">
          <lines><line number="1" hits="1"/><line number="2" hits="0"/></lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"""


def chromium_executable() -> str | None:
    candidates = [os.environ.get("TESTKIT_CHROMIUM", ""), "/usr/bin/chromium"]
    candidates += [shutil.which(name) or "" for name in ("chromium", "chromium-browser")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def summary(p50: float, rps: float) -> dict[str, object]:
    total = {
        "requests": 1000,
        "failures": 0,
        "error_rate": 0.0,
        "rps": rps,
        "p50_ms": p50,
        "p95_ms": p50 * 3,
        "p99_ms": p50 * 5,
    }
    return {
        "profile": "smoke",
        "duration_s": 10.0,
        "users": 5,
        "total": total,
        "endpoints": {"GET /search": total},
    }


def make_inputs(root: Path) -> ReportInputs:
    """A project with three recorded test runs (one flaky test), sixteen recorded perf runs (p50
    up by half from the ninth), coverage XML and a perf summary."""
    history = root / ".testkit" / "history.db"
    history.parent.mkdir(parents=True)
    store = open_history(history, create=True)
    start = time.time() - 3 * 3600
    for index in range(3):
        run_id = f"run-{index}"
        store.start_run(
            Run(run_id, start + index * 3600, None, 7, "MOCK", "all", "fp-1", "[]", 0, None)
        )
        flaky_outcome = "failed" if index == 1 else "passed"
        store.add_results(
            [
                (
                    run_id,
                    "tests/unit/test_fast.py::test_fast",
                    "passed",
                    0,
                    0.001,
                    0.01,
                    0.001,
                    "master",
                    0,
                ),
                (
                    run_id,
                    "tests/e2e/test_slow.py::test_journey",
                    "passed",
                    0,
                    0.2,
                    1.5 + index,
                    0.1,
                    "master",
                    1,
                ),
                (
                    run_id,
                    "tests/integration/test_cache.py::test_flaky",
                    flaky_outcome,
                    0,
                    0.01,
                    0.3,
                    0.01,
                    "master",
                    2,
                ),
            ]
        )
        store.finish_run(run_id, start + index * 3600 + 60, 1 if index == 1 else 0)
    store.close()
    for index in range(16):
        p50 = (10.0 if index < 8 else 15.0) + (index % 3) * 0.2
        created = dt.datetime.fromtimestamp(start + index * 600, tz=dt.UTC).isoformat()
        meta = {"commit": f"{index:040x}", "dirty": False, "created_at": created}
        record_perf_summary(history, summary(p50, 100.0) | {"metadata": meta}, kind="gate")
    for killed in (60, 64, 71):  # three nightly mutation scores (make mutation-score)
        statuses = ["killed"] * killed + ["survived"] * 20
        mutants = [
            Mutant(f"m.x_f__mutmut_{n}", s, "m.py", 1, "a", "b") for n, s in enumerate(statuses)
        ]
        record_score(history, judge(mutants, 80), scope="all", root=root)
    (root / "reports").mkdir()
    (root / "reports" / "coverage.xml").write_text(COVERAGE_XML.format(root=root))
    (root / "locust-reports" / "smoke").mkdir(parents=True)
    (root / "locust-reports" / "smoke" / "summary.json").write_text(json.dumps(summary(12.0, 95.0)))
    (root / "perf" / "baselines").mkdir(parents=True)
    (root / "perf" / "baselines" / "smoke.json").write_text(
        json.dumps(summary(10.0, 100.0) | {"metadata": {"commit": None}})
    )
    (root / "tests").mkdir()
    (root / "tests" / "quarantine.toml").write_text(
        '[[quarantine]]\nnodeid = "tests/integration/test_cache.py::test_flaky"\n'
        'reason = "races the cache warmer"\nowner = "jane@example.com"\nexpires = "2099-12-31"\n'
    )
    return ReportInputs(
        root=root,
        history=history,
        quarantine=root / "tests" / "quarantine.toml",
        coverage_xml=root / "reports" / "coverage.xml",
        locust_dir=root / "locust-reports",
        baselines_dir=root / "perf" / "baselines",
        output=root / "reports" / "index.html",
    )


def test_the_dashboard_draws_every_chart_offline_in_headless_chromium(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium executable (apt install chromium, or set TESTKIT_CHROMIUM)")
    inputs = make_inputs(tmp_path)
    panels = build_report(inputs)
    assert [p.key for p in panels if p.missing] == []

    requested: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(inputs.output.as_uri())
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(CHARTS)}"
            )
            drawn = page.evaluate(
                """(keys) => keys.map((key) => {
                    const chart = document.getElementById('chart-' + key);
                    return [key,
                            chart.querySelectorAll('.main-svg').length,
                            chart.querySelectorAll('g.trace, g.scatterlayer path.js-line').length,
                            (chart.data || []).length];
                })""",
                list(CHARTS),
            )
            marks = page.evaluate(
                "document.getElementById('chart-perf-trends').layout.shapes.length"
            )
            screenshot = pytestconfig.rootpath / "reports" / "dashboard.png"
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert errors == []
    for key, svgs, traces, data in drawn:
        assert svgs >= 1, f"{key}: plotly drew no svg"
        assert traces >= 1, f"{key}: no trace drawn"
        assert data >= 1, f"{key}: no trace in the figure data"
    assert marks == 2  # p50 and p95 both moved at the ninth perf run: a dashed line each
    assert [url for url in requested if not url.startswith("file://")] == []
    assert screenshot.stat().st_size > 10_000
