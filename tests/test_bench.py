"""`make bench QUICK=1` keeps bench/ working: every measurement runs, reduced, and lands in the
report with its chart and the command that reproduces it (slow: about ten minutes).

The reduced figures prove the machinery, not the rates: docs/benchmarks.md holds a full run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _bake import TEMPLATE_ROOT, clean_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bench")]

sys.path.insert(0, str(TEMPLATE_ROOT / "bench"))
from run import MEASUREMENTS  # noqa: E402


def test_quick_bench_reports_every_measurement(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    result = subprocess.run(
        ["make", "bench", "QUICK=1", f"ARGS=--output {output}"],
        cwd=TEMPLATE_ROOT,
        env=clean_env(BENCH_WORK_DIR=str(tmp_path / "work")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Nine measurements, two of them perf-ab and callgrind runs: ten minutes on a quiet
        # 2-core machine, more beside the other worker's bakes.
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    data = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    measurements = {entry["key"]: entry for entry in data["measurements"]}
    assert list(measurements) == list(MEASUREMENTS)
    markdown = output.read_text(encoding="utf-8")
    for key, entry in measurements.items():
        assert entry["measured"]["quick"] is True
        assert entry["figures"], f"{key} measured nothing"
        assert all(figure["command"] for figure in entry["figures"]), key
        assert f"## {entry['title']}" in markdown
        if entry["chart"]:
            assert (tmp_path / "benchmarks" / f"{key}.png").stat().st_size > 1000, key
    # Each perf command ran to a verdict (the rates themselves need the full run's 20 runs).
    perf = {f["label"]: f["values"] for f in measurements["perf_gate_accuracy"]["figures"]}
    assert set(perf) == {"performance-gate unchanged", "perf-ab +50%"}, perf
    assert all(row["runs"] == 1 and row["errors"] == 0 for row in perf.values()), perf
    scale = {f["label"]: f["values"] for f in measurements["perf_gate_scale"]["figures"]}
    assert scale["unchanged, default limits (p50 10%)"]["decisions"] == 10, scale
    assert scale["calibration: idle vs CPU hog, called different"]["checks"] >= 1, scale
    (mutation,) = measurements["mutation_gate"]["figures"]
    assert mutation["values"]["verdict"] == "PASS", mutation
    assert mutation["values"]["mutants"] > 0, mutation
    impact = measurements["impact_faults"]["figures"]
    assert all(figure["values"]["testkit missed"] == 0 for figure in impact), impact
    # The generator made and undid every fault on this bake; the committed outcomes hold no miss.
    at_scale = {f["label"]: f["values"] for f in measurements["impact_scale"]["figures"]}
    assert at_scale["all faults"]["testkit_faults_missed"] == 0, at_scale
