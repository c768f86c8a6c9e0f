"""One-sided significance tests on per-round figures (scipy, imported when first needed).

The gate compares two sets of rounds run at different times (baseline vs now), so it uses the
Mann-Whitney U test: no normality assumed, robust to an outlying round. perf-ab compares rounds
run in pairs, base and candidate at the same time, so it uses the Wilcoxon signed-rank test on
the paired differences, which cancels whatever the machine was doing during each pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

Alternative = Literal["greater", "less"]


class StatsUnavailable(RuntimeError):
    """scipy is not installed (the testkit[perf] extra)."""


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise StatsUnavailable(
            "the perf gate needs scipy: add the testkit[perf] extra to the dev dependencies"
        ) from error
    return stats


def mann_whitney_p(
    current: Sequence[float], baseline: Sequence[float], alternative: Alternative
) -> float:
    """p-value that ``current`` is stochastically greater (or less) than ``baseline``."""
    if not current or not baseline:
        return 1.0
    if len(set(current)) == 1 and set(current) == set(baseline):
        return 1.0  # identical constants: no evidence either way (scipy would divide by zero)
    result = _scipy_stats().mannwhitneyu(current, baseline, alternative=alternative)
    p_value = float(result.pvalue)
    return 1.0 if math.isnan(p_value) else p_value


# scipy's Wilcoxon test, with ties or zeros among up to this many differences, enumerates every
# sign assignment in a permutation test that evaluates its statistic once per assignment in
# Python: about a second per call, and the gate calls it for each metric after every pair.
EXACT_TIES_MAX_N = 13


def wilcoxon_p(differences: Sequence[float], alternative: Alternative) -> float:
    """p-value that the paired ``differences`` are centred above (or below) zero."""
    nonzero = [d for d in differences if d != 0.0]
    if not nonzero:
        return 1.0
    if len(nonzero) <= EXACT_TIES_MAX_N and len(set(map(abs, nonzero))) < len(nonzero):
        return signed_rank_p_enumerated(nonzero, alternative)
    result = _scipy_stats().wilcoxon(nonzero, alternative=alternative)
    p_value = float(result.pvalue)
    return 1.0 if math.isnan(p_value) else p_value


def signed_rank_p_enumerated(differences: Sequence[float], alternative: Alternative) -> float:
    """The Wilcoxon signed-rank p-value from all 2**n sign assignments (n <= 13): the same
    numbers as scipy's permutation test (a unit test compares them), computed as one matrix
    product instead of 2**n calls. Written here because scipy has no vectorised form of it."""
    import numpy as np

    values = np.asarray(differences, dtype=float)
    ranks = _scipy_stats().rankdata(np.abs(values))
    observed = float(ranks[values > 0].sum())
    count = len(values)
    signs = (np.arange(2**count)[:, None] >> np.arange(count)) & 1
    null = signs @ ranks
    # scipy's tolerance for equal statistics computed in floating point.
    gamma = abs(observed) * np.finfo(float).eps * 100
    if alternative == "greater":
        hits = np.count_nonzero(null >= observed - gamma)
    else:
        hits = np.count_nonzero(null <= observed + gamma)
    return float(hits / len(null))
