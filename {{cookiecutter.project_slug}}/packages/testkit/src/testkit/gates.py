"""Quality gates: each gate judges one report file against one limit; `testkit gates` runs them.

The gates never run tests themselves. The make targets produce the reports (security-gate,
flakiness-gate, performance-gate, coverage-gate, adversarial-gate, mutation-gate) and
`testkit gates` reads them, so every verdict can be re-checked from the files a CI run keeps as
artifacts. A gate whose report is missing or unreadable FAILS and names the file and the target
that writes it: a gate that passes because nothing was measured would hide exactly the runs
that broke.

Limits come from [tool.testkit] in the project's pyproject.toml (coverage_threshold,
flaky_budget_percent, adversarial_budget_percent); the performance limits are applied by the
performance gate itself, which records its verdict in reports/performance-gate.json.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from testkit import report_files
from testkit.analytics.quarantine import (
    QuarantineError,
    expired_entries,
    load_quarantine,
)
from testkit.project_settings import DEFAULTS, read_project_settings


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class GateResult:
    """One row of the gates table: what was measured, against which limit, and why it failed."""

    gate: str
    measured: str
    limit: str
    verdict: Verdict
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS


@dataclass(frozen=True, slots=True)
class Limits:
    """The gate limits (testkit.project_settings holds their ranges and defaults)."""

    coverage_threshold: float = DEFAULTS.number("coverage_threshold")
    flaky_budget_percent: float = DEFAULTS.number("flaky_budget_percent")
    adversarial_budget_percent: float = DEFAULTS.number("adversarial_budget_percent")


def read_limits(pyproject: Path) -> Limits:
    """[tool.testkit]'s limits; a missing key keeps its default, a bad value is an error
    (ProjectSettingsError)."""
    settings = read_project_settings(pyproject)
    return Limits(**{field.name: settings.number(field.name) for field in fields(Limits)})


# --- reading the reports --------------------------------------------------------------------


class _BadInput(Exception):
    """A report that exists but cannot be read; becomes a FAIL row naming the file."""


def _missing(gate: str, path: Path, producer: str, limit: str) -> GateResult:
    return GateResult(
        gate,
        "no report",
        limit,
        Verdict.FAIL,
        f"{path} is missing: run `make {producer}` to write it",
    )


def _unreadable(gate: str, path: Path, limit: str, error: Exception) -> GateResult:
    return GateResult(gate, "unreadable", limit, Verdict.FAIL, f"{path}: {error}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _BadInput(f"not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise _BadInput("expected a JSON object")
    return data


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadInput(f"{key!r} must be a number, got {value!r}")
    return float(value)


def _xml_root(path: Path) -> ElementTree.Element:
    try:
        return ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise _BadInput(f"not valid XML ({error})") from error


def _pct(value: float) -> str:
    return f"{value:.1f}%"


# --- the gates ------------------------------------------------------------------------------


def security_gate(junit_xml: Path) -> GateResult:
    """The security tier's JUnit report: at least one test ran, and none failed or errored."""
    gate, limit = "security", "0 failed, >0 run"
    if not junit_xml.is_file():
        return _missing(gate, junit_xml, "security-gate", limit)
    try:
        root = _xml_root(junit_xml)
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        if not suites:
            raise _BadInput("no <testsuite> element")
        counts = {
            key: sum(int(suite.get(key, "0")) for suite in suites)
            for key in ("tests", "failures", "errors", "skipped")
        }
    except (_BadInput, ValueError) as error:
        return _unreadable(gate, junit_xml, limit, error)
    ran = counts["tests"] - counts["skipped"]
    broken = counts["failures"] + counts["errors"]
    measured = f"{ran} run, {broken} failed"
    if broken:
        failed = [
            f"{case.get('classname', '')}::{case.get('name', '')}"
            for case in root.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None
        ]
        shown = ", ".join(failed[:3]) + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else "")
        return GateResult(gate, measured, limit, Verdict.FAIL, f"failing: {shown}")
    if ran <= 0:
        detail = f"no security test ran ({counts['skipped']} skipped): is the infrastructure up?"
        return GateResult(gate, measured, limit, Verdict.FAIL, detail)
    skipped = f"{counts['skipped']} skipped" if counts["skipped"] else ""
    return GateResult(gate, measured, limit, Verdict.PASS, skipped)


def coverage_gate(coverage_xml: Path, threshold: float) -> GateResult:
    """Line coverage of the whole suite (Cobertura line-rate) at or above coverage_threshold."""
    gate, limit = "coverage", f">= {threshold:g}%"
    if not coverage_xml.is_file():
        return _missing(gate, coverage_xml, "coverage-gate", limit)
    try:
        root = _xml_root(coverage_xml)
        if root.tag != "coverage":
            raise _BadInput(f"root element is <{root.tag}>, not Cobertura's <coverage>")
        valid, covered = int(root.get("lines-valid", "")), int(root.get("lines-covered", ""))
    except (_BadInput, ValueError) as error:
        return _unreadable(gate, coverage_xml, limit, error)
    if valid == 0:
        return GateResult(gate, "0 lines", limit, Verdict.FAIL, "no measured line: wrong source?")
    rate = 100.0 * covered / valid
    verdict = Verdict.PASS if rate >= threshold else Verdict.FAIL
    detail = f"{covered}/{valid} lines"
    if verdict is Verdict.FAIL:
        detail += f"; {math.ceil(threshold * valid / 100) - covered} more lines must be covered"
    return GateResult(gate, _pct(rate), limit, verdict, detail)


def diff_coverage_gate(report: Path, threshold: float) -> GateResult:
    """Coverage of the lines changed since the diff base (testkit diff-coverage's JSON)."""
    gate, limit = "diff-coverage", f">= {threshold:g}%"
    if not report.is_file():
        return _missing(gate, report, "coverage-gate", limit)
    try:
        data = _read_json(report)
        if "error" in data:
            return GateResult(gate, "not measured", limit, Verdict.FAIL, str(data["error"]))
        percent = _number(data, "total_percent_covered")
        lines = int(_number(data, "total_num_lines"))
        missing = int(_number(data, "total_num_violations"))
    except _BadInput as error:
        return _unreadable(gate, report, limit, error)
    base = f"vs {data.get('compare_branch', '?')}"
    note = f"; {data['note']}" if data.get("note") else ""
    if lines == 0:
        detail = f"no changed line with coverage data {base}{note}"
        return GateResult(gate, "no changed lines", limit, Verdict.PASS, detail)
    verdict = Verdict.PASS if percent >= threshold else Verdict.FAIL
    detail = f"{lines - missing}/{lines} changed lines covered {base}{note}"
    return GateResult(gate, _pct(percent), limit, verdict, detail)


def adversarial_gate(report: Path, budget: float) -> GateResult:
    """The adversarial tier's failure rate (reports/adversarial.json) within its budget."""
    gate, limit = "adversarial", f"<= {budget:g}% failing"
    if not report.is_file():
        return _missing(gate, report, "adversarial-gate", limit)
    try:
        data = _read_json(report)
        rate, total = _number(data, "rate_percent"), int(_number(data, "total"))
        failed = int(_number(data, "failed"))
    except _BadInput as error:
        return _unreadable(gate, report, limit, error)
    if total == 0:
        return GateResult(gate, "0 run", limit, Verdict.FAIL, "no adversarial test ran")
    verdict = Verdict.PASS if rate <= budget else Verdict.FAIL
    detail = f"{failed}/{total} failed"
    recorded = data.get("budget_percent")
    if isinstance(recorded, int | float) and not math.isclose(recorded, budget):
        detail += f" (the run used a budget of {recorded:g}%; judged against [tool.testkit])"
    return GateResult(gate, _pct(rate), limit, verdict, detail)


def performance_gate(report: Path) -> GateResult:
    """The performance gate's own verdict (reports/performance-gate.json, `testkit perf gate`).

    The perf gate applies the perf_* limits and the significance test itself. INCONCLUSIVE
    (a limit exceeded without significance after the extra rounds) passes, as it does there,
    and says so: only a significant regression fails.
    """
    gate, limit = "performance", "no significant regression"
    if not report.is_file():
        return _missing(gate, report, "performance-gate", limit)
    try:
        data = _read_json(report)
        raw = data.get("verdict")
        if raw not in {"PASS", "REGRESSION", "INCONCLUSIVE"}:
            raise _BadInput(f"'verdict' must be PASS, REGRESSION or INCONCLUSIVE, got {raw!r}")
    except _BadInput as error:
        return _unreadable(gate, report, limit, error)
    rounds = data.get("rounds") or {}
    detail = f"profile {data.get('profile', '?')}, {rounds.get('current', '?')} rounds"
    if raw == "REGRESSION":
        detail = f"regressed: {', '.join(map(str, data.get('regressions', [])))} ({detail})"
    elif raw == "INCONCLUSIVE" and data.get("reason"):  # e.g. not the baseline's machine
        detail = f"{data['reason']}; for a verdict: make performance-gate BASE=<git ref>"
    elif raw == "INCONCLUSIVE":
        over = ", ".join(map(str, data.get("inconclusive", [])))
        detail = (
            f"over a limit without significance: {over} ({detail}); "
            "rerun on a quieter machine or use `make perf-ab`"
        )
    verdict = Verdict.FAIL if raw == "REGRESSION" else Verdict.PASS
    return GateResult(gate, str(raw).lower(), limit, verdict, detail)


def mutation_gate(report: Path) -> GateResult:
    """The mutation gate's own verdict (reports/mutation.json, `testkit mutation`): the share of
    the changed lines' mutants the tests killed, against the threshold it applied."""
    gate = "mutation"
    if not report.is_file():
        return _missing(gate, report, "mutation-gate", "changed-line mutants killed")
    try:
        data = _read_json(report)
        raw = data.get("verdict")
        if raw not in {"PASS", "FAIL"}:
            raise _BadInput(f"'verdict' must be PASS or FAIL, got {raw!r}")
        threshold = _number(data, "threshold_percent")
    except _BadInput as error:
        return _unreadable(gate, report, "changed-line mutants killed", error)
    limit = f">= {threshold:g}% killed"
    verdict = Verdict(raw)
    score = data.get("score_percent")
    if not isinstance(score, int | float):
        return GateResult(gate, "nothing scored", limit, verdict, str(data.get("reason", "")))
    detail = f"{data.get('killed', '?')}/{data.get('total', '?')} killed vs {data.get('base')}"
    survivors = [f"{s.get('path')}:{s.get('line')}" for s in data.get("survivors", [])[:5]]
    if survivors:
        detail += f"; survivors at {', '.join(survivors)}"
    if data.get("reason"):
        detail += f"; {data['reason']}"
    return GateResult(gate, _pct(float(score)), limit, verdict, detail)


def flakiness_gate(report: Path, budget: float) -> GateResult:
    """The flaky rate over the recent history (reports/flakiness-gate.json) within the budget."""
    gate, limit = "flakiness", f"<= {budget:g}% flaky"
    if not report.is_file():
        return _missing(gate, report, "flakiness-gate", limit)
    try:
        data = _read_json(report)
        rate = _number(data, "flaky_rate_percent")
        flaky, tests = int(_number(data, "flaky_tests")), int(_number(data, "tests"))
        runs = int(_number(data, "runs"))
    except _BadInput as error:
        return _unreadable(gate, report, limit, error)
    detail = f"{flaky}/{tests} tests passed and failed on the same code, last {runs} runs"
    if tests == 0:
        detail = "no recorded run yet: the history is empty"
    verdict = Verdict.PASS if rate <= budget else Verdict.FAIL
    return GateResult(gate, _pct(rate), limit, verdict, detail)


def quarantine_gate(quarantine_toml: Path, report: Path, today: dt.date) -> GateResult:
    """No quarantine entry past its expiry date (read from tests/quarantine.toml itself, so it
    is never stale) and none naming a test that no longer exists (from flakiness-gate.json,
    whose producer collected the suite)."""
    gate, limit = "quarantine", "0 expired, 0 unknown"
    try:
        entries = load_quarantine(quarantine_toml)
    except QuarantineError as error:
        return GateResult(gate, "unreadable", limit, Verdict.FAIL, str(error))
    if not report.is_file():
        return _missing(gate, report, "flakiness-gate", limit)
    try:
        data = _read_json(report)
        unknown = data.get("missing_quarantine", [])
        if not isinstance(unknown, list):
            raise _BadInput(f"'missing_quarantine' must be a list, got {unknown!r}")
    except _BadInput as error:
        return _unreadable(gate, report, limit, error)
    expired = expired_entries(entries, today)
    problems = [
        f"{entry.nodeid} expired {entry.expires} (owner {entry.owner})" for entry in expired
    ]
    problems += [f"{nodeid} names no collected test" for nodeid in unknown]
    measured = f"{len(expired)} expired, {len(unknown)} unknown of {len(entries)}"
    if problems:
        return GateResult(gate, measured, limit, Verdict.FAIL, "; ".join(problems))
    return GateResult(gate, measured, limit, Verdict.PASS)


# --- running a selection --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inputs:
    """Where the gates find their reports, the quarantine file, and the date to judge it on."""

    reports: Path
    quarantine: Path
    today: dt.date

    def report(self, name: str) -> Path:
        return self.reports / name


Evaluator = Callable[[Inputs, Limits], GateResult]

GATES: dict[str, Evaluator] = {
    "security": lambda inputs, limits: security_gate(inputs.report(report_files.SECURITY.name)),
    "flakiness": lambda inputs, limits: flakiness_gate(
        inputs.report(report_files.FLAKINESS_GATE.name), limits.flaky_budget_percent
    ),
    "quarantine": lambda inputs, limits: quarantine_gate(
        inputs.quarantine,
        inputs.report(report_files.FLAKINESS_GATE.name),
        inputs.today,
    ),
    "performance": lambda inputs, limits: performance_gate(
        inputs.report(report_files.PERFORMANCE_GATE.name)
    ),
    "coverage": lambda inputs, limits: coverage_gate(
        inputs.report(report_files.COVERAGE.name), limits.coverage_threshold
    ),
    "diff-coverage": lambda inputs, limits: diff_coverage_gate(
        inputs.report(report_files.DIFF_COVERAGE.name), limits.coverage_threshold
    ),
    "adversarial": lambda inputs, limits: adversarial_gate(
        inputs.report(report_files.ADVERSARIAL.name), limits.adversarial_budget_percent
    ),
    "mutation": lambda inputs, limits: mutation_gate(inputs.report(report_files.MUTATION.name)),
}


def evaluate(names: Sequence[str], inputs: Inputs, limits: Limits) -> list[GateResult]:
    """The selected gates in table order (all of them when `names` is empty)."""
    selected = [name for name in GATES if not names or name in names]
    return [GATES[name](inputs, limits) for name in selected]


# --- output ---------------------------------------------------------------------------------
