"""Each report's path has one home (testkit.report_files); the Make layer's file names are
generated from it, and the gates read what the producers write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from testkit import gates, report_files
from testkit.report_files import MAKE_VARIABLES, make_fragment


def test_the_make_fragment_is_the_one_report_files_writes() -> None:
    # packages/testkit/tests/unit/ -> the project root, where make/report-files.mk lives.
    fragment = Path(__file__).resolve().parents[4] / "make" / "report-files.mk"
    if not fragment.is_file():
        pytest.skip("testkit outside its project: no make/report-files.mk to compare")
    assert fragment.read_text(encoding="utf-8") == make_fragment(), (
        "make/report-files.mk differs from testkit.report_files: run `make report-files-fragment`"
    )


def test_every_make_report_lives_in_the_reports_directory_under_its_own_name() -> None:
    paths = list(MAKE_VARIABLES.values())
    assert all(path.parent == report_files.REPORTS for path in paths)
    assert len({path.name for path in paths}) == len(paths)
    assert all(
        f"{variable} := {path.name}" in make_fragment() for variable, path in MAKE_VARIABLES.items()
    )


def test_each_gate_reads_a_report_from_the_registry(tmp_path: Path) -> None:
    inputs = gates.Inputs(reports=tmp_path, quarantine=tmp_path / "q.toml", today=dt.date.today())
    results = gates.evaluate(["security", "coverage", "adversarial"], inputs, gates.Limits())
    named = " ".join(result.detail for result in results)
    for path in (report_files.SECURITY, report_files.COVERAGE, report_files.ADVERSARIAL):
        assert path.name in named
