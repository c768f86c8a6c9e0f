"""The performance gate's decision: relative limits AND statistical significance, per metric.

A metric regresses only when both hold: its change is beyond the limit ([tool.testkit]
perf_p50_pct, perf_p95_pct, perf_p99_pct, perf_throughput_pct) in the worse direction, and the
rounds say that excess is real: one-sided p < alpha for "worse than the limit allows" (Mann-
Whitney U of the current rounds against the baseline's scaled by the limit; Wilcoxon signed-rank
of the A/B pairs' log-ratios minus the limit's), Holm-corrected over the metrics tested
together. Testing against the limit, not against "no
change", is what keeps a noisy machine from failing unchanged code: noise has to push every
round past the limit, not merely past the baseline. Beyond the limit without significance is
INCONCLUSIVE: the caller runs more rounds, up to a cap, and then reports INCONCLUSIVE.
Within the limit is a PASS on the point estimate; for A/B pairs a PASS past half the limit whose
pairs do not show it within the limit either (one-sided p >= alpha for "better than the limit
allows") is also *undecided*, and perf-ab adds pairs while one is: with few noisy pairs a true
+20% change sometimes shows a median under +10%, and stopping there would pass it.
Latency percentiles are checked in total and per endpoint (so the table names the slow one);
throughput and error rate in total. Pure functions: figures in, a PerfResult out.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from testkit.perf.figures import Figures, WindowFigures
from testkit.perf.stats import Alternative, mann_whitney_p, wilcoxon_p
from testkit.project_settings import DEFAULTS, read_project_settings
from testkit.usage import UsageError

TOTAL = "total"
LATENCY_METRICS = ("p50_ms", "p95_ms", "p99_ms")
THROUGHPUT = "rps"
ERROR_RATE = "error_rate"
# [tool.testkit] key of each metric's limit, and the SPEC's defaults.
LIMIT_KEYS = {
    "p50_ms": "perf_p50_pct",
    "p95_ms": "perf_p95_pct",
    "p99_ms": "perf_p99_pct",
    THROUGHPUT: "perf_throughput_pct",
}
DEFAULT_LIMITS = {metric: DEFAULTS.number(key) for metric, key in LIMIT_KEYS.items()}
# The answer provider's cost per answer (testkit.perf.cost), in US dollars.
COST_CEILING_KEY = "perf_cost_ceiling"
DEFAULT_COST_CEILING = DEFAULTS.number(COST_CEILING_KEY)
DEFAULT_ALPHA = 0.05
# Errors are not noise: more than this many percentage points above the baseline fails outright.
DEFAULT_ERROR_RATE_PP = 1.0
# A percentile is gated only where each round holds at least this many requests beyond it
# (p50: 10 requests per round, p95: 100, p99: 500); below that a round's p99 is its slowest
# request or two, and the gate would be judging the machine's hiccups, not the code.
DEFAULT_TAIL_REQUESTS = 5
PERCENTILE_OF = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}


class PerfVerdict(enum.StrEnum):
    PASS = "PASS"
    REGRESSION = "REGRESSION"
    INCONCLUSIVE = "INCONCLUSIVE"
    SKIPPED = "SKIPPED"


class LimitsError(UsageError):
    """The statistics' knobs are out of range; the message names which."""


@dataclass(frozen=True, slots=True)
class PerfLimits:
    """Relative limits in percent per metric, plus the statistics' knobs."""

    percent: Mapping[str, float]
    alpha: float = DEFAULT_ALPHA
    error_rate_pp: float = DEFAULT_ERROR_RATE_PP
    tail_requests: int = DEFAULT_TAIL_REQUESTS
    cost_ceiling_usd: float = DEFAULT_COST_CEILING

    def min_requests(self, metric: str) -> int:
        """Requests per round a metric needs before it is gated."""
        if metric not in PERCENTILE_OF:
            return 1
        return math.ceil(self.tail_requests / (1.0 - PERCENTILE_OF[metric] / 100.0) - 1e-9)


def load_limits(
    pyproject: Path, *, alpha: float = DEFAULT_ALPHA, cost_ceiling: float | None = None
) -> PerfLimits:
    """The limits from ``[tool.testkit]`` of ``pyproject`` (the SPEC's defaults where unset);
    ``cost_ceiling`` (PERF_COST_CEILING) replaces perf_cost_ceiling when given."""
    settings = read_project_settings(pyproject)
    percent = {metric: settings.number(key) for metric, key in LIMIT_KEYS.items()}
    if not 0.0 < alpha < 1.0:
        raise LimitsError(f"alpha must be between 0 and 1, got {alpha}")
    ceiling = settings.number(COST_CEILING_KEY) if cost_ceiling is None else cost_ceiling
    return PerfLimits(percent=percent, alpha=alpha, cost_ceiling_usd=ceiling)


@dataclass(frozen=True, slots=True)
class MetricCheck:
    """One row of the table. ``change_pct`` is current vs baseline; None when not computed."""

    scope: str
    metric: str
    baseline: float | None
    current: float | None
    change_pct: float | None
    limit_pct: float | None
    p_value: float | None
    verdict: PerfVerdict
    note: str = ""
    # A/B only: one-sided p that the metric is within its limit (better than the limit allows).
    p_within: float | None = None

    @property
    def label(self) -> str:
        return f"{self.scope} {self.metric}"

    @property
    def worse_pct(self) -> float:
        """The change in the worse direction (a throughput drop, a latency rise), in percent."""
        return _worse_pct(self.metric, self.change_pct or 0.0)


@dataclass(frozen=True, slots=True)
class PerfResult:
    """Every check, and how many rounds (or pairs) each side had."""

    mode: str  # "baseline" (independent rounds) or "ab" (paired rounds)
    checks: tuple[MetricCheck, ...]
    baseline_rounds: int
    current_rounds: int
    alpha: float

    @property
    def regressions(self) -> tuple[MetricCheck, ...]:
        return tuple(c for c in self.checks if c.verdict is PerfVerdict.REGRESSION)

    @property
    def inconclusive(self) -> tuple[MetricCheck, ...]:
        return tuple(c for c in self.checks if c.verdict is PerfVerdict.INCONCLUSIVE)

    @property
    def undecided(self) -> tuple[MetricCheck, ...]:
        """Passes past half their limit that the pairs do not yet show to be within it."""
        return tuple(
            c
            for c in self.checks
            if c.verdict is PerfVerdict.PASS
            and c.p_within is not None
            and c.p_within >= self.alpha
            and c.limit_pct is not None
            and c.worse_pct > c.limit_pct / 2
        )

    @property
    def needs_more_pairs(self) -> bool:
        """perf-ab goes on: a metric is inconclusive, or a pass is still undecided."""
        return self.verdict is PerfVerdict.INCONCLUSIVE or (
            self.verdict is PerfVerdict.PASS and bool(self.undecided)
        )

    @property
    def unjudged(self) -> bool:
        """The total's median latency could not be gated: too few requests to say anything."""
        return any(
            c.scope == TOTAL and c.metric == "p50_ms" and c.verdict is PerfVerdict.SKIPPED
            for c in self.checks
        )

    @property
    def verdict(self) -> PerfVerdict:
        if self.regressions:
            return PerfVerdict.REGRESSION
        if self.inconclusive or self.unjudged:
            return PerfVerdict.INCONCLUSIVE
        return PerfVerdict.PASS

    def as_dict(self) -> dict[str, Any]:
        return {
            "gate": "performance",
            "mode": self.mode,
            "verdict": self.verdict.value,
            "alpha": self.alpha,
            "rounds": {"baseline": self.baseline_rounds, "current": self.current_rounds},
            "regressions": [check.label for check in self.regressions],
            "inconclusive": [check.label for check in self.inconclusive]
            + (["total p50_ms (too few requests)"] if self.unjudged else []),
            "undecided": [check.label for check in self.undecided],
            "checks": [asdict(check) | {"verdict": check.verdict.value} for check in self.checks],
        }


def _metric_values(rounds: Sequence[WindowFigures], scope: str, metric: str) -> list[float | None]:
    values: list[float | None] = []
    for figures in rounds:
        scoped: Figures | None = figures.total if scope == TOTAL else figures.endpoints.get(scope)
        value = None if scoped is None else getattr(scoped, metric)
        values.append(None if value is None else float(value))
    return values


def _requests_per_round(rounds: Sequence[WindowFigures], scope: str) -> float:
    counts = [(r.total if scope == TOTAL else r.endpoints.get(scope, None)) for r in rounds]
    return statistics.median([c.requests if c is not None else 0 for c in counts]) if counts else 0


def _scopes(*sides: Sequence[WindowFigures]) -> list[str]:
    names = sorted({name for side in sides for r in side for name in r.endpoints})
    return [TOTAL, *names]


def _worse(metric: str) -> Alternative:
    return "less" if metric == THROUGHPUT else "greater"


def _better(metric: str) -> Alternative:
    return "greater" if metric == THROUGHPUT else "less"


def _worse_pct(metric: str, change_pct: float) -> float:
    return -change_pct if metric == THROUGHPUT else change_pct


def _classify(change: Comparison, limit_pct: float, metric: str, alpha: float) -> PerfVerdict:
    if _worse_pct(metric, change.pct) <= limit_pct:
        return PerfVerdict.PASS
    return PerfVerdict.REGRESSION if change.p_worse < alpha else PerfVerdict.INCONCLUSIVE


def _error_rate_check(
    baseline: Sequence[WindowFigures], current: Sequence[WindowFigures], limits: PerfLimits
) -> MetricCheck:
    def pooled(rounds: Sequence[WindowFigures]) -> float:
        requests = sum(r.total.requests for r in rounds)
        return sum(r.total.failures for r in rounds) / requests if requests else 0.0

    before, after = pooled(baseline), pooled(current)
    change_pp = (after - before) * 100.0
    return MetricCheck(
        scope=TOTAL,
        metric=ERROR_RATE,
        baseline=round(before, 6),
        current=round(after, 6),
        change_pct=round(change_pp, 3),
        limit_pct=limits.error_rate_pp,
        p_value=None,
        verdict=PerfVerdict.REGRESSION if change_pp > limits.error_rate_pp else PerfVerdict.PASS,
        note="percentage points",
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """One metric's two sides: their medians, the change in percent, and the one-sided p-values
    for "worse than the limit allows" and (A/B only) "better than the limit allows"."""

    base: float
    current: float
    pct: float
    p_worse: float
    p_within: float | None = None


NO_DATA = Comparison(0.0, 0.0, 0.0, 1.0)
Compare = Callable[[list[float], list[float], str, float], Comparison]


def _evaluate(
    mode: str,
    baseline: Sequence[WindowFigures],
    current: Sequence[WindowFigures],
    limits: PerfLimits,
    compare: Compare,
) -> PerfResult:
    checks: list[MetricCheck] = []
    for scope in _scopes(baseline, current):
        metrics = [*LATENCY_METRICS, THROUGHPUT] if scope == TOTAL else list(LATENCY_METRICS)
        few = min(_requests_per_round(baseline, scope), _requests_per_round(current, scope))
        for metric in metrics:
            limit = limits.percent[metric]
            before = _metric_values(baseline, scope, metric)
            after = _metric_values(current, scope, metric)
            needed = limits.min_requests(metric)
            if few < needed:
                checks.append(
                    MetricCheck(
                        scope,
                        metric,
                        None,
                        None,
                        None,
                        limit,
                        None,
                        PerfVerdict.SKIPPED,
                        f"under {needed} requests per round",
                    )
                )
                continue
            if mode == "baseline":
                pair = ([v for v in before if v is not None], [v for v in after if v is not None])
            else:
                pair = _paired(before, after)
            change = compare(*pair, metric, limit)
            checks.append(
                MetricCheck(
                    scope=scope,
                    metric=metric,
                    baseline=round(change.base, 3),
                    current=round(change.current, 3),
                    change_pct=round(change.pct, 2),
                    limit_pct=limit,
                    p_value=round(change.p_worse, 5),
                    verdict=_classify(change, limit, metric, limits.alpha),
                    p_within=None if change.p_within is None else round(change.p_within, 5),
                )
            )
    checks = _holm(checks, limits.alpha)
    checks.append(_error_rate_check(baseline, current, limits))
    return PerfResult(mode, tuple(checks), len(baseline), len(current), limits.alpha)


def _holm(checks: list[MetricCheck], alpha: float) -> list[MetricCheck]:
    """Holm-Bonferroni over the metrics tested together: the k-th smallest p must be below
    alpha / (m - k + 1), so a run that tests a dozen metrics still fails unchanged code with
    probability alpha, not a dozen times that. A regression that does not clear it stays
    INCONCLUSIVE (more pairs or rounds may show it). Six lines: scipy has no Holm correction,
    statsmodels would be a dependency for them."""
    tested = sorted(
        (c for c in checks if c.verdict is not PerfVerdict.SKIPPED and c.p_value is not None),
        key=lambda c: c.p_value or 0.0,
    )
    cleared: set[int] = set()
    for rank, check in enumerate(tested):
        if (check.p_value or 0.0) >= alpha / (len(tested) - rank):
            break
        cleared.add(id(check))
    return [
        replace(c, verdict=PerfVerdict.INCONCLUSIVE)
        if c.verdict is PerfVerdict.REGRESSION and id(c) not in cleared
        else c
        for c in checks
    ]


def _paired(
    before: list[float | None], after: list[float | None]
) -> tuple[list[float], list[float]]:
    pairs = [(b, a) for b, a in zip(before, after, strict=True) if b is not None and a is not None]
    return [b for b, _ in pairs], [a for _, a in pairs]


def _allowed_factor(metric: str, limit_pct: float) -> float:
    """The worst ratio (current / baseline) the limit allows."""
    return 1.0 - limit_pct / 100.0 if metric == THROUGHPUT else 1.0 + limit_pct / 100.0


def _compare_independent(
    before: list[float], after: list[float], metric: str, limit_pct: float
) -> Comparison:
    if not before or not after:
        return NO_DATA
    base_value, current_value = statistics.median(before), statistics.median(after)
    change = (current_value / base_value - 1.0) * 100.0 if base_value else 0.0
    allowed = [value * _allowed_factor(metric, limit_pct) for value in before]
    return Comparison(
        base_value, current_value, change, mann_whitney_p(after, allowed, _worse(metric))
    )


def _compare_paired(
    before: list[float], after: list[float], metric: str, limit_pct: float
) -> Comparison:
    pairs = [(b, a) for b, a in zip(before, after, strict=True) if b > 0 and a > 0]
    if not pairs:
        return NO_DATA
    change = statistics.median([a / b - 1.0 for b, a in pairs]) * 100.0
    allowed = math.log(_allowed_factor(metric, limit_pct))
    excess = [math.log(a / b) - allowed for b, a in pairs]
    return Comparison(
        statistics.median(before),
        statistics.median(after),
        change,
        p_worse=wilcoxon_p(excess, _worse(metric)),
        p_within=wilcoxon_p(excess, _better(metric)),
    )


def compare_to_baseline(
    baseline: Sequence[WindowFigures], current: Sequence[WindowFigures], limits: PerfLimits
) -> PerfResult:
    """Rounds of now vs the baseline's rounds: median change, Mann-Whitney U per metric."""
    return _evaluate("baseline", baseline, current, limits, _compare_independent)


def compare_pairs(
    base: Sequence[WindowFigures], candidate: Sequence[WindowFigures], limits: PerfLimits
) -> PerfResult:
    """A/B pairs (round i of base beside round i of candidate): median of the per-pair relative
    changes, Wilcoxon signed-rank on them."""
    if len(base) != len(candidate):
        raise ValueError(
            f"A/B needs as many base rounds as candidate rounds: {len(base)} vs {len(candidate)}"
        )
    return _evaluate("ab", base, candidate, limits, _compare_paired)
