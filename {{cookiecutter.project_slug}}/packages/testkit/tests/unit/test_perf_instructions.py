"""The instruction-count gate's pure parts: the decision, the limit, the baseline environment,
benchmark discovery, callgrind's output, and the command's answers to bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from testkit.cli import main
from testkit.perf.benchmark_module import BenchmarkError, discover, source_roots
from testkit.perf.callgrind import Counted, parse_total, segments_of
from testkit.perf.instruction_gate import (
    Environment,
    InstructionVerdict,
    compare_counts,
    environment_differences,
    format_table,
    load_limit,
)
from testkit.project_settings import ProjectSettingsError

HERE = Environment(
    python="CPython 3.11.7",
    python_build="main May  9 2026 GCC 12.2.0",
    machine="x86_64",
    libc="glibc 2.36",
    valgrind="valgrind-3.19.0",
    instrumentation="switched on after the imports (vgdb)",
)


def verdicts(base: dict[str, float], current: dict[str, float], **options: object) -> dict:
    result = compare_counts(base, current, limit_pct=2.0, **options)  # type: ignore[arg-type]
    return {check.name: check.verdict for check in result.checks}


# --- the decision ---------------------------------------------------------------------------


def test_unchanged_counts_pass() -> None:
    result = compare_counts({"a": 1000.0, "b": 50.0}, {"a": 1000.0, "b": 50.0}, limit_pct=2.0)

    assert result.verdict is InstructionVerdict.PASS
    assert [check.change_pct for check in result.checks] == [0.0, 0.0]


def test_three_percent_more_instructions_is_a_regression_naming_the_benchmark() -> None:
    result = compare_counts({"a": 1000.0, "b": 50.0}, {"a": 1030.0, "b": 50.0}, limit_pct=2.0)

    assert result.verdict is InstructionVerdict.REGRESSION
    assert [check.name for check in result.regressions] == ["a"]
    assert result.checks[0].change_pct == pytest.approx(3.0)


def test_a_change_up_to_the_limit_passes() -> None:
    assert verdicts({"a": 1000.0}, {"a": 1020.0}) == {"a": InstructionVerdict.PASS}
    assert verdicts({"a": 1000.0}, {"a": 1020.1}) == {"a": InstructionVerdict.REGRESSION}


def test_faster_beyond_the_limit_passes_and_asks_for_a_new_baseline() -> None:
    result = compare_counts({"a": 1000.0}, {"a": 900.0}, limit_pct=2.0)

    assert result.verdict is InstructionVerdict.PASS
    assert "new baseline" in result.checks[0].note


def test_new_and_missing_benchmarks_are_listed_but_do_not_fail() -> None:
    result = compare_counts({"old": 10.0, "kept": 10.0}, {"kept": 10.0, "new": 5.0}, limit_pct=2.0)

    assert {c.name: c.verdict for c in result.checks} == {
        "kept": InstructionVerdict.PASS,
        "new": InstructionVerdict.NEW,
        "old": InstructionVerdict.MISSING,
    }
    assert result.verdict is InstructionVerdict.PASS


def test_a_baseline_from_another_environment_cannot_convict() -> None:
    result = compare_counts(
        {"a": 1000.0, "b": 1000.0},
        {"a": 1100.0, "b": 1000.0},
        limit_pct=2.0,
        differences=("CPython 3.12.1 (here: CPython 3.11.7)",),
    )

    assert {c.name: c.verdict for c in result.checks} == {
        "a": InstructionVerdict.INCONCLUSIVE,
        "b": InstructionVerdict.PASS,
    }
    assert result.verdict is InstructionVerdict.INCONCLUSIVE
    assert result.regressions == ()


def test_a_base_of_zero_instructions_regresses_on_any_increase() -> None:
    assert verdicts({"a": 0.0}, {"a": 0.0}) == {"a": InstructionVerdict.PASS}
    assert verdicts({"a": 0.0}, {"a": 3.0}) == {"a": InstructionVerdict.REGRESSION}


def test_the_table_lists_every_benchmark_and_ends_with_the_verdict() -> None:
    result = compare_counts({"a": 1000.0, "b": 20.0}, {"a": 1050.0, "c": 7.0}, limit_pct=2.0)

    table = format_table(result, base_label="base")

    lines = table.splitlines()
    assert lines[0].split() == [
        "benchmark",
        "base/call",
        "current/call",
        "change",
        "limit",
        "verdict",
    ]
    assert lines[1].split() == ["a", "1,000.0", "1,050.0", "+5.00%", "2%", "REGRESSION"]
    assert lines[2].split()[-1] == "NEW"
    assert lines[3].split()[-1] == "MISSING"
    assert lines[-1] == "instructions: REGRESSION (1 compared, limit 2%; regressed: a)"


def test_the_report_names_each_verdict_as_text() -> None:
    result = compare_counts({"a": 1000.0}, {"a": 1000.0}, limit_pct=2.0)

    data = json.loads(json.dumps(result.as_dict()))

    assert data["verdict"] == "PASS"
    assert data["benchmarks"][0]["verdict"] == "PASS"
    assert data["limit_pct"] == 2.0


# --- the limit ------------------------------------------------------------------------------


def test_the_limit_defaults_to_two_percent(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    assert load_limit(pyproject) == 2.0
    pyproject.write_text("[tool.testkit]\nperf_p50_pct = 10\n")
    assert load_limit(pyproject) == 2.0


def test_the_limit_is_read_from_tool_testkit(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.testkit]\nperf_instructions_pct = 0.5\n")

    assert load_limit(pyproject) == 0.5


@pytest.mark.parametrize("raw", ["0", "-1", "100.5", '"2"', "true", "nan"])
def test_a_limit_outside_0_to_100_is_refused_naming_key_file_and_range(
    tmp_path: Path, raw: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool.testkit]\nperf_instructions_pct = {raw}\n")

    with pytest.raises(ProjectSettingsError) as caught:
        load_limit(pyproject)

    message = str(caught.value)
    assert "[tool.testkit] perf_instructions_pct" in message
    assert str(pyproject) in message
    assert "a number above 0 to 100" in message


# --- the environment a baseline was recorded in ---------------------------------------------


def test_the_same_environment_has_no_differences() -> None:
    assert environment_differences(HERE, Environment.from_dict(HERE.as_dict())) == ()


def test_each_differing_field_is_named_with_both_values() -> None:
    recorded = replace(
        HERE, python="CPython 3.12.1", machine="aarch64", instrumentation="from the start"
    )

    assert environment_differences(recorded, HERE) == (
        "CPython 3.12.1 (here: CPython 3.11.7)",
        "aarch64 (here: x86_64)",
        "instrumentation from the start (here: switched on after the imports (vgdb))",
    )


def test_an_old_baseline_without_a_field_reads_it_as_unknown() -> None:
    assert Environment.from_dict({"python": "CPython 3.11.7"}).machine == "unknown"


# --- benchmarks and callgrind's output ------------------------------------------------------


def test_benchmarks_are_the_top_level_bench_functions_in_file_order(tmp_path: Path) -> None:
    module = tmp_path / "benchmarks.py"
    module.write_text(
        "SETUP = 1\n\n"
        "def bench_zeta():\n    pass\n\n"
        "def helper():\n    pass\n\n"
        "def bench_alpha():\n    def bench_nested():\n        pass\n\n"
        "class Bench:\n    def bench_method(self):\n        pass\n"
    )

    assert discover(module) == ("zeta", "alpha")


def test_a_benchmark_taking_arguments_is_refused_with_its_line(tmp_path: Path) -> None:
    module = tmp_path / "benchmarks.py"
    module.write_text("def bench_ok():\n    pass\n\ndef bench_bad(n):\n    pass\n")

    with pytest.raises(BenchmarkError, match=r"benchmarks.py:4: bench_bad\(\) must take no"):
        discover(module)


def test_a_benchmark_module_that_does_not_parse_is_named_with_its_line(tmp_path: Path) -> None:
    module = tmp_path / "benchmarks.py"
    module.write_text("def bench_a(:\n")

    with pytest.raises(BenchmarkError, match=r"benchmarks.py:1: the benchmark module is not"):
        discover(module)


CALLGRIND_PART = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  python -P -c ...
part: 3

desc: I1 cache:
events: Ir
summary: 793287

fn=(1) main
0 12
totals: 793287
"""


def test_the_count_is_the_summary_line_of_a_part() -> None:
    assert parse_total(CALLGRIND_PART) == 793287


def test_a_part_with_only_totals_is_read_too() -> None:
    assert parse_total("events: Ir\nfn=(1) f\n0 3\ntotals: 12345\n") == 12345


def test_output_without_a_count_is_refused() -> None:
    with pytest.raises(ValueError, match="no 'summary:' or 'totals:'"):
        parse_total("events: Ir\n")


def test_segments_are_the_numbered_parts_in_order(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out.77"
    out.write_text("summary: 999\n")  # the dump at exit: not a segment
    for part, count in ((1, 5_000_000), (2, 90_000), (3, 700_000), (4, 690_000), (10, 1)):
        out.with_name(f"{out.name}.{part}").write_text(f"summary: {count}\n")

    # .10 follows a gap (no .5): counting stops at the first missing part.
    assert segments_of(out) == [5_000_000, 90_000, 700_000, 690_000]


def test_instructions_per_call_subtract_the_empty_loop_from_the_median_repeat() -> None:
    counted = Counted("a", iterations=100, empty=10_000, repeats=(510_300, 510_000, 510_100))

    assert counted.per_call == pytest.approx(5_001.0)
    assert counted.spread_pct == pytest.approx(300 / 510_100 * 100)


def test_source_roots_put_each_revisions_code_first(tmp_path: Path) -> None:
    for folder in ("packages/testkit/src", "services/api/src", "tests"):
        (tmp_path / folder).mkdir(parents=True)

    assert source_roots(tmp_path) == (
        tmp_path / "packages/testkit/src",
        tmp_path / "services/api/src",
        tmp_path / "tests",
    )


# --- the command's answers to bad input -----------------------------------------------------


def run_command(*argv: str) -> int:
    return main(["perf", *argv])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tests" / "perf").mkdir(parents=True)
    (tmp_path / "tests/perf/instruction_benchmarks.py").write_text("def bench_a():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_bad_limit_exits_2_in_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text("[tool.testkit]\nperf_instructions_pct = 0\n")

    assert run_command("instructions") == 2

    out = capsys.readouterr().err
    assert out.count("\n") == 1
    assert "perf_instructions_pct in pyproject.toml must be a number above 0" in out


@pytest.mark.parametrize("flag", ["--iterations", "--repeats", "--jobs"])
def test_a_count_below_one_exits_2_naming_the_flag(
    project: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    assert run_command("instructions", flag, "0") == 2

    assert capsys.readouterr().err == f"testkit perf: {flag} must be at least 1, got 0\n"


def test_the_gate_without_a_baseline_says_how_to_record_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("instructions") == 2

    out = capsys.readouterr().err
    assert "no baseline at perf/baselines/instructions.json" in out
    assert "make perf-instructions-baseline" in out
    assert "BASE=<ref>" in out


def test_an_unreadable_baseline_exits_2_naming_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "perf/baselines").mkdir(parents=True)
    (project / "perf/baselines/instructions.json").write_text('{"benchmarks": []}')

    assert run_command("instructions") == 2

    assert "perf/baselines/instructions.json is not an instruction baseline" in (
        capsys.readouterr().err
    )


def test_without_valgrind_the_gate_exits_3_with_the_install_command(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(project))  # no valgrind there

    assert run_command("instructions-baseline") == 3

    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "apt-get install valgrind" in out


def test_a_project_without_benchmarks_has_nothing_to_measure(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "tests/perf/instruction_benchmarks.py").unlink()

    assert run_command("instructions") == 0
    assert run_command("instructions-baseline") == 0

    out = capsys.readouterr().out
    assert "nothing to measure" in out
    assert not (project / "perf/baselines/instructions.json").exists()


def test_a_benchmark_module_named_but_absent_exits_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("instructions", "--benchmarks", "tests/perf/nope.py") == 2

    out = capsys.readouterr().err
    assert out == "testkit perf: --benchmarks tests/perf/nope.py: no such file\n"
