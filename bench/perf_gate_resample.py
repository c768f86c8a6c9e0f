"""Resampled perf-ab decisions from pools of real pairs (stdin: bench/perf_gate_scale.py's
pools), using the bake's own testkit: run by the bake's Python. Prints rows as JSON.

Each decision takes the pairs of one pool in a random order (without replacement) and applies
perf-ab's sequential rule (6 pairs, one more while compare_pairs says the verdict is undecided,
up to 30). Decisions
from one pool share its pairs, so the rates describe this machine's pairs as pooled; the pool
sizes are printed beside them.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
from typing import Any

from scipy.stats import binomtest
from testkit.perf.calibration import Calibration, compare_machines, fingerprint
from testkit.perf.figures import WindowFigures
from testkit.perf.gate import DEFAULT_LIMITS, PerfLimits, PerfResult, PerfVerdict, compare_pairs

FIRST_PAIRS, MAX_PAIRS = 6, 30
SEARCH = "GET /search"
# The gate's limits, and tighter p50 limits (the other metrics keep theirs).
LIMIT_SETS = {"default limits (p50 10%)": 10.0, "p50 limit 5%": 5.0}
# A decision costs up to 25 comparisons of ~20 ms: null pools get the full count (the false-alarm
# rate is the claim), slowdown pools a third of it (at least 100).
SLOWDOWN_SHARE = 3


def decide(
    pool: list[tuple[WindowFigures, WindowFigures]], limits: PerfLimits, rng: random.Random
) -> tuple[PerfResult, int]:
    """One decision: the pool's real pairs in a random order, without replacement (a pool holds
    60, a decision uses at most 30). Drawing with replacement would repeat pairs: the repeats
    understate the noise, and their tied differences send scipy's Wilcoxon test to a slow
    permutation test."""
    order = rng.sample(pool, min(MAX_PAIRS, len(pool)))
    used = FIRST_PAIRS
    while True:
        drawn = order[:used]
        result = compare_pairs([b for b, _ in drawn], [c for _, c in drawn], limits)
        if used >= len(order) or not result.needs_more_pairs:
            return result, used
        used += 1


def interval(count: int, total: int) -> tuple[float, float]:
    ci = binomtest(count, total).proportion_ci(confidence_level=0.95, method="exact")
    return round(100 * ci.low, 2), round(100 * ci.high, 2)


def change_pct(pool: list[tuple[WindowFigures, WindowFigures]]) -> float:
    ratios = [
        math.log(c.endpoints[SEARCH].p50_ms / b.endpoints[SEARCH].p50_ms)
        for b, c in pool
        if SEARCH in b.endpoints
        and SEARCH in c.endpoints
        and b.endpoints[SEARCH].p50_ms
        and c.endpoints[SEARCH].p50_ms
    ]
    return round(100 * (math.exp(statistics.median(ratios)) - 1), 1)


def calibration_rows(data: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    """As the gate does: five calibrations of a baseline, then one before the rounds. Idle
    against the next idle one (should be comparable), and against the hogged one taken right
    after them (should not)."""
    idle = [Calibration.from_dict(c) for c in data["idle"]]
    hog = [Calibration.from_dict(c) for c in data["hog"]]
    here = fingerprint()
    cases: dict[str, list[bool]] = {"idle vs idle": [], "idle vs CPU hog": []}
    for start in range(0, len(idle) - 5):
        recorded = idle[start : start + 5]
        if start + 5 < len(idle):
            check = compare_machines(here, recorded, here, [idle[start + 5]])
            cases["idle vs idle"].append(not check.comparable)
        if start + 4 < len(hog):
            check = compare_machines(here, recorded, here, [hog[start + 4]])
            cases["idle vs CPU hog"].append(not check.comparable)
    rows = []
    for label, flags in cases.items():
        if not flags:
            continue
        low, high = interval(sum(flags), len(flags))
        rows.append(
            {
                "label": f"calibration: {label}, called different",
                "values": {
                    "checks": len(flags),
                    "flagged": sum(flags),
                    "rate_pct": round(100 * sum(flags) / len(flags), 2),
                    "ci95_low_pct": low,
                    "ci95_high_pct": high,
                },
            }
        )
    return rows


def main() -> int:
    decisions = int(sys.argv[1])
    data = json.load(sys.stdin)
    rng = random.Random(2026)
    rows = []
    for limit_label, p50 in LIMIT_SETS.items():
        limits = PerfLimits(percent={**DEFAULT_LIMITS, "p50_ms": p50})
        for name, raw in data["pools"].items():
            pool = [
                (WindowFigures.from_dict(p["base"]), WindowFigures.from_dict(p["candidate"]))
                for p in raw
            ]
            verdicts, sizes = [], []
            count = decisions if name.startswith("unchanged") else max(100, decisions // 3)
            for _ in range(count):
                result, used = decide(pool, limits, rng)
                verdicts.append(result.verdict)
                sizes.append(used)
            regressions = sum(v is PerfVerdict.REGRESSION for v in verdicts)
            low, high = interval(regressions, count)
            rows.append(
                {
                    "label": f"{name}, {limit_label}",
                    "values": {
                        "decisions": count,
                        "regression": regressions,
                        "rate_pct": round(100 * regressions / count, 2),
                        "ci95_low_pct": low,
                        "ci95_high_pct": high,
                        "inconclusive": sum(v is PerfVerdict.INCONCLUSIVE for v in verdicts),
                        "median_pairs": statistics.median(sizes),
                        "pool_pairs": len(pool),
                        "search_change_pct": change_pct(pool),
                    },
                }
            )
    if "calibration" in data:
        rows += calibration_rows(data["calibration"])
    null = [r for r in rows if r["label"].startswith("unchanged") and "default" in r["label"]]
    alarms = sum(r["values"]["regression"] for r in null)
    total = sum(r["values"]["decisions"] for r in null)
    low, high = interval(alarms, total) if total else (0.0, 0.0)
    print(
        json.dumps(
            {
                "rows": rows,
                "headline": (
                    f"perf-ab at the default limits: {alarms}/{total} false alarms on unchanged "
                    f"code, idle and with a CPU hog (95% CI {low}-{high}%), resampled from "
                    "real pairs"
                ),
                "notes": __doc__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
