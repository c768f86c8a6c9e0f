"""What the perf commands print: one line per round or pair, and the gate's verdict table."""

from __future__ import annotations

from testkit.perf.cost import METRIC as COST_METRIC
from testkit.perf.figures import WindowFigures
from testkit.perf.gate import ERROR_RATE, THROUGHPUT, PerfResult, PerfVerdict


def round_line(prefix: str, figures: WindowFigures) -> str:
    total = figures.total

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    return (
        f"{prefix}: {total.rps:.1f} req/s, p50 {ms(total.p50_ms)} ms, "
        f"p95 {ms(total.p95_ms)} ms, p99 {ms(total.p99_ms)} ms, "
        f"errors {total.error_rate:.2%} ({total.requests} requests)"
    )


def pair_line(index: int, base: WindowFigures, candidate: WindowFigures) -> str:
    b, c = base.total, candidate.total
    return (
        f"perf-ab pair {index + 1}: base p50 {b.p50_ms or 0:.1f} ms {b.rps:.1f} req/s | "
        f"candidate p50 {c.p50_ms or 0:.1f} ms {c.rps:.1f} req/s"
    )


def undecided_line(result: PerfResult) -> str:
    """Why perf-ab goes on: what is inconclusive, and what passes but not yet surely."""
    parts = []
    if result.verdict is PerfVerdict.INCONCLUSIVE:
        labels = result.as_dict()["inconclusive"]
        parts.append(f"inconclusive ({', '.join(labels)})")
    if result.undecided:
        changes = ", ".join(
            f"{c.label} {c.change_pct:+.1f}% of {c.limit_pct:g}%" for c in result.undecided
        )
        parts.append(f"not yet shown within the limit ({changes})")
    return "; ".join(parts)


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.2f}{unit}"


def format_table(result: PerfResult, *, baseline_label: str = "baseline") -> str:
    """The verdict table: metric, baseline, current, change, limit, verdict (p-value in it)."""
    header = ("metric", baseline_label, "current", "change", "limit", "verdict")
    rows = [header]
    for check in result.checks:
        current = _number(check.current)
        if check.metric == ERROR_RATE:
            change = "-" if check.change_pct is None else f"{check.change_pct:+.2f}pp"
            limit = f"+{check.limit_pct:g}pp"
        elif check.metric == COST_METRIC:  # an absolute ceiling in USD, not a change
            change, limit = "-", f"<=${check.limit_pct:g}"
            current = "-" if check.current is None else f"${check.current:.6f}"
        else:
            change = "-" if check.change_pct is None else f"{check.change_pct:+.1f}%"
            sign = "-" if check.metric == THROUGHPUT else "+"
            limit = "-" if check.limit_pct is None else f"{sign}{check.limit_pct:g}%"
        verdict = check.verdict.value
        if check.p_value is not None and check.verdict is not PerfVerdict.PASS:
            verdict += f" (p={check.p_value:.3f})"
        elif check.note and (
            check.verdict is PerfVerdict.SKIPPED
            or (check.metric == COST_METRIC and check.verdict is not PerfVerdict.PASS)
        ):
            verdict += f" ({check.note})"
        rows.append((check.label, _number(check.baseline), current, change, limit, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    side = "pairs" if result.mode == "ab" else "rounds"
    lines.append(
        f"performance gate: {result.verdict.value} ({result.baseline_rounds} {baseline_label} vs "
        f"{result.current_rounds} current {side}, alpha {result.alpha:g})"
        + (
            f"; regressions: {', '.join(c.label for c in result.regressions)}"
            if result.regressions
            else ""
        )
    )
    return "\n".join(lines)
