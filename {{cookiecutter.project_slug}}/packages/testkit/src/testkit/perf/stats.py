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


def wilcoxon_p(differences: Sequence[float], alternative: Alternative) -> float:
    """p-value that the paired ``differences`` are centred above (or below) zero."""
    nonzero = [d for d in differences if d != 0.0]
    if not nonzero:
        return 1.0
    result = _scipy_stats().wilcoxon(nonzero, alternative=alternative)
    p_value = float(result.pvalue)
    return 1.0 if math.isnan(p_value) else p_value
