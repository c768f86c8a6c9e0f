"""What `testkit gates` writes: the terminal table, the GitHub step summary (Markdown) and
reports/gates.json, each from the same list of gate results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from testkit.gates import GateResult

COLUMNS = ("gate", "measured", "limit", "verdict")


def render_table(results: Sequence[GateResult]) -> str:
    """The terminal table, then one line per gate that has something to explain."""
    rows = [COLUMNS, *((r.gate, r.measured, r.limit, r.verdict.value) for r in results)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines += [f"{r.gate}: {r.detail}" for r in results if r.detail]
    failed = [r.gate for r in results if not r.passed]
    lines.append(f"quality gates: {'FAILED (' + ', '.join(failed) + ')' if failed else 'passed'}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[GateResult]) -> str:
    """The GitHub step summary: the same table in Markdown, details in the last column."""
    lines = [
        "## Quality gates",
        "",
        "| gate | measured | limit | verdict | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        mark = ":white_check_mark:" if r.passed else ":x:"
        cells = (r.gate, r.measured, r.limit, f"{mark} {r.verdict.value}", r.detail)
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n\n"


def as_json(results: Sequence[GateResult]) -> str:
    data = {
        "passed": all(r.passed for r in results),
        "gates": [asdict(r) | {"verdict": r.verdict.value} for r in results],
    }
    return json.dumps(data, indent=2) + "\n"


def write_outputs(results: Sequence[GateResult], json_path: Path, summary: Path | None) -> None:
    """reports/gates.json always; the step summary when GitHub Actions names one."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(as_json(results), encoding="utf-8")
    if summary is not None:
        with summary.open("a", encoding="utf-8") as stream:
            stream.write(render_markdown(results))
