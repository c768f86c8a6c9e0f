"""`testkit perf instructions` counts for real: callgrind runs a tiny benchmark module in a
temporary git repository, and a benchmark doing 5 % more work is flagged while an unchanged one
is not (against BASE and against a recorded baseline)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from testkit.perf import instructions

pytestmark = [
    pytest.mark.skipif(
        shutil.which("valgrind") is None,
        reason="valgrind is not installed (apt-get install valgrind): the counts come from "
        "callgrind",
    ),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]

# 100 loop iterations per call, then 105: 5 % more work (about 5.5 % more instructions: the
# last squares are the largest numbers).
BENCHMARKS = """
def work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def bench_unchanged():
    assert work(100) == 328350


def bench_grows():
    assert work({n}) == {total}
"""
BEFORE = BENCHMARKS.format(n=100, total=sum(i * i for i in range(100)))
AFTER = BENCHMARKS.format(n=105, total=sum(i * i for i in range(105)))
FAST = ("--iterations", "20", "--repeats", "3")


def run_command(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="testkit perf")
    instructions.add_parser(parser.add_subparsers(dest="perf_command", required=True))
    arguments = parser.parse_args(list(argv))
    code: int = arguments.handler(arguments)
    return code


def git(cwd: Path, *arguments: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *arguments],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    module = tmp_path / "tests/perf/instruction_benchmarks.py"
    module.parent.mkdir(parents=True)
    module.write_text(BEFORE)
    (tmp_path / "pyproject.toml").write_text("[tool.testkit]\nperf_instructions_pct = 2.0\n")
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def report(project: Path) -> dict[str, dict[str, object]]:
    data = json.loads((project / "reports/perf-instructions.json").read_text())
    return {row["name"]: row for row in data["benchmarks"]}


def test_five_percent_more_work_than_base_is_a_regression_and_unchanged_code_is_not(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "tests/perf/instruction_benchmarks.py").write_text(AFTER)

    assert run_command("instructions", "--base", "HEAD", *FAST) == 1

    rows = report(project)
    assert rows["grows"]["verdict"] == "REGRESSION"
    assert 4.0 < float(rows["grows"]["change_pct"]) < 7.0  # type: ignore[arg-type]
    assert rows["unchanged"]["verdict"] == "PASS"
    # The same code in the base's worktree and in the working tree: the same count.
    assert abs(float(rows["unchanged"]["change_pct"])) < 0.05  # type: ignore[arg-type]
    assert "instructions: REGRESSION (2 compared, limit 2%; regressed: grows)" in (
        capsys.readouterr().out
    )


def test_a_recorded_baseline_convicts_here_and_is_inconclusive_elsewhere(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("instructions-baseline", *FAST) == 0
    baseline_file = project / "perf/baselines/instructions.json"
    baseline = json.loads(baseline_file.read_text())
    assert baseline["iterations"] == 20
    assert set(baseline["benchmarks"]) == {"unchanged", "grows"}
    assert baseline["environment"]["valgrind"].startswith("valgrind")
    (project / "tests/perf/instruction_benchmarks.py").write_text(AFTER)

    assert run_command("instructions", "--repeats", "3") == 1  # iterations: the baseline's
    assert {name: row["verdict"] for name, row in report(project).items()} == {
        "unchanged": "PASS",
        "grows": "REGRESSION",
    }

    baseline["environment"]["python"] = "CPython 3.99.0"
    baseline_file.write_text(json.dumps(baseline))
    capsys.readouterr()
    assert run_command("instructions", "--repeats", "3") == 0
    out = capsys.readouterr().out
    assert report(project)["grows"]["verdict"] == "INCONCLUSIVE"
    assert "inconclusive: recorded with CPython 3.99.0 (here: CPython 3." in out
    assert "re-record (make perf-instructions-baseline) or use BASE=<ref>" in out
    assert run_command("instructions", "--repeats", "3", "--strict") == 1


def test_a_benchmark_whose_assertion_fails_is_named_with_its_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "tests/perf/instruction_benchmarks.py").write_text(
        BEFORE.replace("== 328350", "== 0")
    )

    assert run_command("instructions-baseline", *FAST) == 2

    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "bench_unchanged in " in out
    assert "instruction_benchmarks.py failed at line 10: AssertionError" in out
    assert not (project / "perf/baselines/instructions.json").exists()
