"""The Wilcoxon p-values the perf gate uses: scipy's, computed faster where scipy enumerates."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from testkit.perf.stats import EXACT_TIES_MAX_N, signed_rank_p_enumerated, wilcoxon_p


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_the_enumerated_p_value_is_scipys_permutation_p_value(alternative: str) -> None:
    rng = random.Random(2026)
    # scipy's side costs up to seconds a call: small samples, and one of the largest.
    for count in [rng.randint(1, 8) for _ in range(40)] + [EXACT_TIES_MAX_N]:
        # Few distinct magnitudes: ties in nearly every sample, as percentile buckets give.
        differences = [rng.choice([-3, -2, -1, -0.5, 0.5, 1, 2, 3]) for _ in range(count)]
        expected = float(stats.wilcoxon(differences, alternative=alternative).pvalue)
        assert signed_rank_p_enumerated(differences, alternative) == pytest.approx(  # type: ignore[arg-type]
            expected, abs=1e-12
        ), differences


def test_without_ties_and_beyond_the_enumeration_scipy_decides() -> None:
    no_ties = [0.3, -0.1, 0.5, 0.2, 0.4, 0.6]
    many = [0.1, 0.2] * 10
    for differences in (no_ties, many):
        expected = float(stats.wilcoxon(differences, alternative="greater").pvalue)
        assert wilcoxon_p(differences, "greater") == pytest.approx(expected)


def test_zeros_are_dropped_and_all_zeros_is_no_evidence() -> None:
    assert wilcoxon_p([0.0, 0.0], "greater") == 1.0
    assert wilcoxon_p([0.0, 1.0, 1.0, 2.0], "greater") == wilcoxon_p([1.0, 1.0, 2.0], "greater")
