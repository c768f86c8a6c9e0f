"""The instruction-count gate's decision: per benchmark, instructions per call now against the
base, beyond ``[tool.testkit] perf_instructions_pct`` (default 2 %) is a REGRESSION.

Counts from callgrind barely move between runs of the same code on the same interpreter (a few
tenths of a percent where other code or another environment moves objects in memory), so a
plain relative limit well above that is enough: no rounds, no statistics. They do move between
interpreters, C libraries and valgrind versions, so a baseline recorded elsewhere cannot
convict: its rows beyond the limit are INCONCLUSIVE and the caller says what differs. Pure
functions: counts in, an InstructionGateResult out.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from testkit.project_settings import read_project_settings

LIMIT_KEY = "perf_instructions_pct"


class InstructionVerdict(enum.StrEnum):
    PASS = "PASS"
    REGRESSION = "REGRESSION"
    INCONCLUSIVE = "INCONCLUSIVE"
    NEW = "NEW"
    MISSING = "MISSING"


def load_limit(pyproject: Path) -> float:
    """``[tool.testkit] perf_instructions_pct`` of ``pyproject`` (ProjectSettingsError if bad)."""
    return read_project_settings(pyproject).number(LIMIT_KEY)


@dataclass(frozen=True, slots=True)
class Environment:
    """What instruction counts depend on besides the code: counts are comparable only when
    every field is equal."""

    python: str  # version and implementation, e.g. "CPython 3.11.7"
    python_build: str  # build date and compiler: two builds of one version count differently
    machine: str  # architecture, e.g. "x86_64"
    libc: str  # e.g. "glibc 2.36"
    valgrind: str  # e.g. "valgrind-3.19.0"
    # Instrumented from the start, or switched on after the imports: another memory layout.
    instrumentation: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Environment:
        return cls(**{f.name: str(data.get(f.name, "unknown")) for f in fields(cls)})


# How a field's value reads in a sentence ("recorded with <label><value> (here: <value>)").
_LABELS = {"python_build": "Python build ", "instrumentation": "instrumentation "}


def environment_differences(recorded: Environment, current: Environment) -> tuple[str, ...]:
    """Each field that differs, as ``"<recorded> (here: <current>)"``; empty when comparable."""
    return tuple(
        f"{_LABELS.get(f.name, '')}{getattr(recorded, f.name)} (here: {getattr(current, f.name)})"
        for f in fields(Environment)
        if getattr(recorded, f.name) != getattr(current, f.name)
    )


@dataclass(frozen=True, slots=True)
class BenchmarkCheck:
    """One row: instructions per call on each side, the change in percent and the verdict."""

    name: str
    base: float | None
    current: float | None
    change_pct: float | None
    limit_pct: float
    verdict: InstructionVerdict
    note: str = ""


@dataclass(frozen=True, slots=True)
class InstructionGateResult:
    checks: tuple[BenchmarkCheck, ...]
    limit_pct: float
    # Why the base cannot convict (environment differences); empty when it can.
    differences: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[BenchmarkCheck, ...]:
        return tuple(c for c in self.checks if c.verdict is InstructionVerdict.REGRESSION)

    @property
    def verdict(self) -> InstructionVerdict:
        if self.regressions:
            return InstructionVerdict.REGRESSION
        if self.differences:
            return InstructionVerdict.INCONCLUSIVE
        return InstructionVerdict.PASS

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "limit_pct": self.limit_pct,
            "differences": list(self.differences),
            "benchmarks": [
                {**asdict(check), "verdict": check.verdict.value} for check in self.checks
            ],
        }


def compare_counts(
    base: Mapping[str, float],
    current: Mapping[str, float],
    *,
    limit_pct: float,
    differences: Sequence[str] = (),
) -> InstructionGateResult:
    """Instructions per call by benchmark name, base against current.

    ``differences`` (from :func:`environment_differences`) makes a row beyond the limit
    INCONCLUSIVE instead of a REGRESSION. A base count of zero or less (a benchmark that does
    less than an empty call) has no relative change: any increase beyond it is judged as
    infinite.
    """
    comparable = not differences
    checks = []
    for name in [*current, *(n for n in base if n not in current)]:
        before, now = base.get(name), current.get(name)
        if before is None:
            checks.append(BenchmarkCheck(name, None, now, None, limit_pct, InstructionVerdict.NEW))
            continue
        if now is None:
            checks.append(
                BenchmarkCheck(name, before, None, None, limit_pct, InstructionVerdict.MISSING)
            )
            continue
        if before <= 0.0:
            change = 0.0 if now <= before else math.inf
        else:
            change = (now - before) / before * 100.0
        if change <= limit_pct:
            verdict = InstructionVerdict.PASS
        else:
            verdict = (
                InstructionVerdict.REGRESSION if comparable else InstructionVerdict.INCONCLUSIVE
            )
        note = "faster beyond the limit: record a new baseline" if change < -limit_pct else ""
        checks.append(BenchmarkCheck(name, before, now, change, limit_pct, verdict, note))
    return InstructionGateResult(tuple(checks), limit_pct, tuple(differences))


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def format_table(result: InstructionGateResult, *, base_label: str) -> str:
    """The checks as an aligned text table, then one line with the overall verdict."""
    header = ("benchmark", f"{base_label}/call", "current/call", "change", "limit", "verdict")
    rows = [
        (
            check.name,
            _count(check.base),
            _count(check.current),
            "-" if check.change_pct is None else f"{check.change_pct:+.2f}%",
            f"{check.limit_pct:g}%",
            check.verdict.value + (f" ({check.note})" if check.note else ""),
        )
        for check in result.checks
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join(
            [row[0].ljust(widths[0])]
            + [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:], strict=True)]
            + [row[-1]]
        ).rstrip()
        for row in [header, *rows]
    ]
    compared = sum(c.change_pct is not None for c in result.checks)
    summary = (
        f"instructions: {result.verdict.value} ({compared} compared, limit {result.limit_pct:g}%"
    )
    if result.regressions:
        summary += f"; regressed: {', '.join(c.name for c in result.regressions)}"
    lines.append(summary + ")")
    return "\n".join(lines)
