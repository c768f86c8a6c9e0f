"""The quality gates bite: break a baked project on purpose and the matching gate fails (slow).

One default bake is installed once and committed to a git repository (diff coverage needs a
base; with no origin/main it compares the working tree with HEAD, as a fresh clone would
not). Each case changes the project as a careless commit would, runs the gate's make target
against the machine's services, reads the verdict from reports/gates.json, and restores the
project. A control runs the same targets unchanged and every gate passes.

What each case runs, to stay cheap while still going through the real targets:
- coverage: `make coverage-gate ARGS="-m unit"`, i.e. the gate over the unit tier alone (the
  rest of the suite covers the same code again, so deleting unit tests barely moves whole-suite
  coverage). The threshold is set like a team gating its fast tier would: a few points under
  what the unmodified unit tier covers, measured once by the `unit_coverage` fixture.
- security: `make security-gate` over tests/security/test_cross_tenant.py, the attack on
  every endpoint (the whole tier catching the leak is test_tiers_bite.py's).
- flakiness: a probe test that fails in 3 of every 10 runs, run 10 times into its own history
  file (TESTKIT_HISTORY), then `make flakiness-gate`.
- quarantine: an entry for an existing test that expired in 2020, then `make flakiness-gate`.
- mutation: a commit adding a function no test calls to pagination.py, then
  `make mutation-gate BASE=HEAD~1` (mutmut over that one function, the unit and property tiers
  deciding); the commit is taken back afterwards.
The performance gate's bite (a 50 ms sleep in search) is tests/test_perf_gate_bite.py's.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _bake import GIT, SEARCH_TENANT_FILTER, installed_default_bake, run_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gates-bake")]

PACKAGE = "services/api/src/acme_knowledge_base"
UNIT_FOLDERS = ("tests/unit", "packages/testkit/tests/unit")
COVERAGE_MARGIN = 3  # points under the unmodified unit tier's coverage: the gate's threshold
# The security tier's cross-tenant attacks (one per endpoint), not the whole tier.
CROSS_TENANT = "ARGS=tests/security/test_cross_tenant.py -p no:randomly"
FLAKY_PROBE = '''\
"""Fails in runs 1, 4 and 7 of every 10 (counted in a file): a 30%-failing test."""

from pathlib import Path

COUNTER = Path(".testkit/flaky-probe-runs")


def test_fails_three_runs_in_ten() -> None:
    run = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(run + 1))
    assert run % 10 not in (1, 4, 7), f"run {run}: one of the probe's planned failures"
'''


def run(project: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_in(project, *command, timeout=900, **env)


def verdicts(project: Path) -> dict[str, dict[str, str]]:
    """reports/gates.json of the last `testkit gates`: gate name -> its row."""
    data = json.loads((project / "reports/gates.json").read_text(encoding="utf-8"))
    return {row["gate"]: row for row in data["gates"]}


def judge(project: Path, *gates: str) -> subprocess.CompletedProcess[str]:
    return run(project, ".venv/bin/testkit", "gates", *gates)


def line_coverage(project: Path) -> float:
    root = ElementTree.parse(project / "reports/coverage.xml").getroot()
    return 100.0 * int(root.get("lines-covered", "0")) / int(root.get("lines-valid", "1"))


def unit_coverage_gate(project: Path) -> subprocess.CompletedProcess[str]:
    return run(project, "make", "coverage-gate", "ARGS=-m unit -p no:randomly -q")


@contextmanager
def restored(project: Path, *relative: str) -> Iterator[None]:
    """Put the named files (and folders) back as they were, whatever the case did to them."""
    backup = project.parent / "backup"
    shutil.rmtree(backup, ignore_errors=True)
    for name in relative:
        source, target = project / name, backup / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        elif source.exists():
            shutil.copy2(source, target)
    try:
        yield
    finally:
        for name in relative:
            source, target = backup / name, project / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            elif source.exists():
                shutil.copy2(source, target)


@pytest.fixture(scope="module")
def gated_project(
    template: Path, cookiecutter_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return installed_default_bake(
        template, tmp_path_factory.mktemp("gated"), cookiecutter_config, committed=True
    )


@pytest.fixture(scope="module")
def unit_coverage(gated_project: Path) -> float:
    """The unmodified unit tier's line coverage; the gate's threshold goes a few points under."""
    result = unit_coverage_gate(gated_project)
    assert "coverage" in verdicts(gated_project), result.stdout[-3000:]
    measured = line_coverage(gated_project)
    pyproject = gated_project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    threshold = math.floor(measured) - COVERAGE_MARGIN
    text, count = re.subn(
        r"(?m)^coverage_threshold = .*$", f"coverage_threshold = {threshold}", text
    )
    assert count == 1
    pyproject.write_text(text, encoding="utf-8")
    return measured


def test_the_gates_pass_on_the_unmodified_project(
    gated_project: Path, unit_coverage: float
) -> None:
    # The control: the same targets as the cases below, unmodified, and every gate passes,
    # so each failure below is the mutation's doing. The unit tier's coverage report is the
    # one the fixture measured (this test runs first), now judged with its threshold.
    assert line_coverage(gated_project) == unit_coverage
    judged = judge(gated_project, "coverage", "diff-coverage")
    security = run(gated_project, "make", "security-gate", CROSS_TENANT)
    flakiness = run(gated_project, "make", "flakiness-gate")
    gates = ("security", "flakiness", "quarantine", "coverage", "diff-coverage")
    table = judge(gated_project, *gates)

    for step in (judged, security, flakiness):
        assert step.returncode == 0, step.stdout[-3000:]
    assert table.returncode == 0, table.stdout
    assert {name: row["verdict"] for name, row in verdicts(gated_project).items()} == dict.fromkeys(
        gates, "PASS"
    )
    assert "quality gates: passed" in table.stdout


def test_deleting_half_the_unit_tests_fails_the_coverage_gate(
    gated_project: Path, unit_coverage: float
) -> None:
    with restored(gated_project, *UNIT_FOLDERS):
        test_files = sorted(
            path for folder in UNIT_FOLDERS for path in (gated_project / folder).glob("test_*.py")
        )
        for path in test_files[::2]:
            path.unlink()
        result = unit_coverage_gate(gated_project)
        remaining = line_coverage(gated_project)

    rows = verdicts(gated_project)
    assert result.returncode != 0, result.stdout[-3000:]
    assert rows["coverage"]["verdict"] == "FAIL", rows
    assert remaining < unit_coverage - COVERAGE_MARGIN
    assert "more lines must be covered" in rows["coverage"]["detail"]
    # Only the coverage fell: deleted tests are no changed source lines.
    assert rows["diff-coverage"]["verdict"] == "PASS", rows


def test_a_cross_tenant_leak_fails_the_security_gate(gated_project: Path) -> None:
    documents = f"{PACKAGE}/crud/documents.py"
    with restored(gated_project, documents):
        path = gated_project / documents
        source = path.read_text(encoding="utf-8")
        original, leak = SEARCH_TENANT_FILTER
        assert source.count(original) == 1, "the leak no longer applies"
        path.write_text(source.replace(original, leak), encoding="utf-8")
        gate = run(gated_project, "make", "security-gate", CROSS_TENANT)
    table = judge(gated_project, "security")

    assert gate.returncode != 0, gate.stdout[-3000:]
    assert table.returncode == 1, table.stdout
    row = verdicts(gated_project)["security"]
    assert row["verdict"] == "FAIL"
    assert "test_search_never_returns_another_tenant_document" in row["detail"]


def test_a_test_failing_30_percent_of_runs_fails_the_flakiness_gate(gated_project: Path) -> None:
    probe = "tests/unit/test_flaky_probe.py"
    history = {"TESTKIT_HISTORY": ".testkit/flaky-probe.db"}
    with restored(gated_project, probe, ".testkit/flaky-probe-runs", ".testkit/flaky-probe.db"):
        (gated_project / probe).write_text(FLAKY_PROBE, encoding="utf-8")
        outcomes = [
            run(
                gated_project, ".venv/bin/pytest", probe, "-q", "-p", "no:randomly", **history
            ).returncode
            for _ in range(10)
        ]
        gate = run(gated_project, "make", "flakiness-gate", **history)
        table = judge(gated_project, "flakiness")

    assert outcomes.count(1) == 3, outcomes
    assert gate.returncode != 0, gate.stdout[-3000:]
    assert table.returncode == 1, table.stdout
    row = verdicts(gated_project)["flakiness"]
    assert row["verdict"] == "FAIL"
    assert "1/1 tests passed and failed on the same code" in row["detail"]


def test_an_expired_quarantine_entry_fails_the_flakiness_gate(gated_project: Path) -> None:
    victim = next(
        f"tests/unit/test_pagination.py::{name}"
        for name in re.findall(
            r"^def (test_\w+)",
            (gated_project / "tests/unit/test_pagination.py").read_text(encoding="utf-8"),
            flags=re.MULTILINE,
        )
    )
    with restored(gated_project, "tests/quarantine.toml"):
        (gated_project / "tests/quarantine.toml").write_text(
            f'[[quarantine]]\nnodeid = "{victim}"\nreason = "races"\n'
            'owner = "jane@example.com"\nexpires = 2020-01-31\n',
            encoding="utf-8",
        )
        gate = run(gated_project, "make", "flakiness-gate")
        table = judge(gated_project, "quarantine")

    assert gate.returncode != 0, gate.stdout[-3000:]
    assert table.returncode == 1, table.stdout
    row = verdicts(gated_project)["quarantine"]
    assert row["verdict"] == "FAIL"
    assert row["detail"] == f"{victim} expired 2020-01-31 (owner jane@example.com)"


UNTESTED_FUNCTION = """

def pages_needed(total: int, *, page_size: int = DEFAULT_PAGE_SIZE) -> int:
    \"\"\"How many pages hold ``total`` rows.\"\"\"
    if total <= 0:
        return 0
    return (total + page_size - 1) // page_size
"""


def test_an_untested_function_fails_the_mutation_gate_naming_its_mutants(
    gated_project: Path,
) -> None:
    unchanged = run(gated_project, "make", "mutation-gate", "BASE=HEAD")
    assert unchanged.returncode == 0, unchanged.stdout[-3000:]
    assert "nothing to mutate: no changed function" in unchanged.stdout

    pagination = f"{PACKAGE}/pagination.py"
    with restored(gated_project, pagination):
        path = gated_project / pagination
        source = path.read_text(encoding="utf-8")
        path.write_text(source + UNTESTED_FUNCTION, encoding="utf-8")
        first_line = len(source.splitlines()) + 3  # two blank lines, then the def
        committed = run(gated_project, *GIT, "commit", "--quiet", "-am", "pages_needed")
        assert committed.returncode == 0, committed.stdout
        try:
            gate = run(gated_project, "make", "mutation-gate", "BASE=HEAD~1")
            table = judge(gated_project, "mutation")
        finally:
            run(gated_project, *GIT, "reset", "--quiet", "HEAD~1")

    assert gate.returncode != 0, gate.stdout[-3000:]
    assert "5 changed lines in 1 functions of 1 files" in gate.stdout
    assert "score 0.0%" in gate.stdout
    # Each surviving mutant is named by file and line, with the code it mutated.
    places = set(re.findall(rf"{pagination}:(\d+)  (.+?)  ->", gate.stdout))
    assert (str(first_line + 2), "if total <= 0:") in places, gate.stdout
    assert (str(first_line + 4), "return (total + page_size - 1) // page_size") in places
    assert table.returncode == 1, table.stdout
    row = verdicts(gated_project)["mutation"]
    assert (row["verdict"], row["measured"]) == ("FAIL", "0.0%")
    assert f"{pagination}:{first_line + 2}" in row["detail"]
