"""Change points: where a series of runs (perf figures, a test's durations) moved to a new level.

The search is PELT (the optimal segmentation under a penalty per change point) with the L2 cost,
run by ruptures' KernelCPD with the linear kernel, on the series divided by its noise. The noise
is estimated robustly from the differences of consecutive runs (their MAD, scaled to a standard
deviation, over sqrt 2): a level shift changes one difference and an outlier two, so neither
inflates it. In noise units the penalty per change point is `penalty_factor * log(n)`, a
BIC-like choice whatever the series' units.

A change point found is listed only when the runs on either side of it (up to the neighbouring
change points) bear it out and it matters: a two-sided Mann-Whitney U test (scipy) of those runs
gives p < `alpha`, and their medians differ by at least `min_relative` of the level before and
by at least `min_absolute`. The weakest failing one is merged away first and the rest judged
again, so the short segment PELT cuts around one or two outlying runs goes (its median is its
neighbours' level, and a couple of high ranks are no evidence), and noise lists nothing.

Why ruptures: issue 18 names apache-otava (Hunter's E-divisive means) and MongoDB's
signal-processing-algorithms (E-divisive). Neither fits a project that supports Python 3.11 to
3.13: apache-otava 0.8.0 pins numpy==2.2.0.* and pulls google-cloud-bigquery and slack-sdk;
signal-processing-algorithms 2.1.6 requires Python <3.12, numpy<2 and gevent<25. ruptures
(wheels for 3.11-3.13, needing only numpy and scipy) is imported only when a detection runs,
from the analytics or perf extra.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testkit.analytics.durations import Policy as DurationPolicy

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this estimates its sigma
RELATIVE_EPSILON = 1e-9


class ChangePointsUnavailable(RuntimeError):
    """ruptures is not installed (the testkit[analytics] or testkit[perf] extra)."""


def _ruptures() -> Any:
    try:
        import ruptures
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise ChangePointsUnavailable(
            "change points need ruptures: add the testkit[analytics] extra to the dev "
            "dependencies (uv sync)"
        ) from error
    return ruptures


@dataclass(frozen=True, slots=True)
class Point:
    """One run's value: what it measured (a commit, or a run id) and when."""

    label: str
    at: float  # epoch seconds
    value: float


@dataclass(frozen=True, slots=True)
class Policy:
    """How sure and how large a shift must be to be listed. Measured with these defaults on
    synthetic series (docs/testing.md, "Trends and change points"): flat series of 14 to 200
    runs with 5-20 % noise list a change point in at most 4 of 1,000; a +30 % step after 15 of
    30 runs with 5 % noise is found at its run in 981 of 1,000."""

    # Fewer runs in a series: no verdict. 7 runs against 7 is the shortest series whose two
    # halves can differ at alpha (Mann-Whitney's smallest two-sided p: 2 / C(14, 7)).
    min_runs: int = 14
    min_segment: int = 3  # runs at a level before it counts: one odd run is never a level
    penalty_factor: float = 5.0  # PELT penalty per change point: this times log(n), noise units
    min_relative: float = 0.10  # medians at least 10 % apart...
    min_absolute: float = 0.0  # ...and at least this far apart, in the series' units
    alpha: float = 0.001  # two-sided Mann-Whitney p of the runs on either side must be below

    def __post_init__(self) -> None:
        problem = None
        if self.min_segment < 2:
            problem = f"min_segment must be an integer of 2 or more, got {self.min_segment}"
        elif self.min_runs < 2 * self.min_segment:
            problem = (
                f"min_runs must be at least 2 * min_segment ({2 * self.min_segment}), "
                f"got {self.min_runs}"
            )
        elif not self.penalty_factor > 0:
            problem = f"penalty_factor must be above 0, got {self.penalty_factor}"
        elif not self.min_relative >= 0:
            problem = f"min_relative must be 0 or more, got {self.min_relative}"
        elif not self.min_absolute >= 0:
            problem = f"min_absolute must be 0 or more, got {self.min_absolute}"
        elif not 0 < self.alpha <= 1:
            problem = f"alpha must be above 0 and at most 1, got {self.alpha}"
        if problem is not None:
            raise ValueError(f"change-point policy: {problem}")


# Perf figures: the defaults. Test call times: also at least durations' floor apart (50 ms), so
# a millisecond test doubling is not listed.
PERF_POLICY = Policy()
DURATION_POLICY = Policy(min_absolute=DurationPolicy().floor_s)


@dataclass(frozen=True, slots=True)
class ChangePoint:
    index: int  # the first run at the new level
    before: Point  # the last run before the change
    after: Point  # the first run after it
    before_median: float  # median of the runs since the previous change point
    after_median: float  # median of the runs up to the next one
    before_runs: int
    after_runs: int

    @property
    def change(self) -> float:
        return self.after_median - self.before_median

    @property
    def relative_change(self) -> float:
        """(after - before) / before; infinite when the level before was 0."""
        if self.before_median == 0:
            return math.copysign(math.inf, self.change) if self.change else 0.0
        return self.change / abs(self.before_median)

    @property
    def span(self) -> str:
        """'last label before..first label after' (for commits: a range for `git log`)."""
        return f"{self.before.label}..{self.after.label}"


@dataclass(frozen=True, slots=True)
class Detection:
    runs: int
    noise: float | None  # robust sigma of the series; None when there were too few runs
    change_points: tuple[ChangePoint, ...]
    enough_runs: bool


def noise_of(values: Sequence[float]) -> float:
    """Robust sigma from consecutive differences; 0.0 for a constant series."""
    differences = [b - a for a, b in itertools.pairwise(values)]
    if not differences:
        return 0.0
    centre = statistics.median(differences)
    mad = statistics.median(abs(d - centre) for d in differences)
    # Rounding leaves a "zero" MAD a few ulps above 0; it is zero all the same.
    if mad > RELATIVE_EPSILON * max(abs(v) for v in values):
        return MAD_TO_SIGMA * mad / math.sqrt(2)
    # More than half the differences are equal (quantised or mostly constant values): the mean
    # absolute difference still sees the rest. sqrt(pi/2) turns it into a sigma for a normal.
    mean_abs = statistics.fmean(abs(d - centre) for d in differences)
    return math.sqrt(math.pi / 2) * mean_abs / math.sqrt(2)


def _segment_ends(values: Sequence[float], noise: float, policy: Policy) -> list[int]:
    """PELT on the series in noise units: the exclusive end of every segment but the last."""
    import numpy

    signal = (numpy.asarray(values, dtype=float) - statistics.median(values)) / noise
    penalty = policy.penalty_factor * math.log(len(values))
    # The linear kernel's cost is L2 (squared deviations from the segment mean); KernelCPD runs
    # PELT in C, a thousand times faster than ruptures' Python Pelt on 200 runs.
    search = _ruptures().KernelCPD(kernel="linear", min_size=policy.min_segment, jump=1)
    ends: list[int] = search.fit(signal).predict(pen=penalty)
    return [int(end) for end in ends[:-1]]


def _meaningful(before: float, after: float, policy: Policy) -> float:
    """How far the shift clears the thresholds (>= 1 keeps it): the smaller of its two ratios."""
    change = abs(after - before)
    if not policy.min_relative:
        relative = math.inf
    elif before == 0:
        relative = math.inf if change else 0.0
    else:
        relative = change / (policy.min_relative * abs(before))
    absolute = change / policy.min_absolute if policy.min_absolute else math.inf
    return min(relative, absolute)


def _p_value(before: Sequence[float], after: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U: do the runs before and after come from one distribution?"""
    if len(set(before) | set(after)) == 1:
        return 1.0
    _ruptures()  # scipy comes with it; one message names the extra either way
    from scipy.stats import mannwhitneyu

    p_value = float(mannwhitneyu(before, after, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p_value) else p_value


def _judged(
    points: Sequence[Point], starts: Sequence[int], policy: Policy
) -> tuple[ChangePoint, ...]:
    """Change points at `starts`, after merging away the shifts that are too small to matter or
    not borne out by the runs on either side (weakest first, then the rest judged again)."""
    values = [p.value for p in points]
    kept = sorted(starts)
    while kept:
        bounds = [0, *kept, len(points)]
        segments = [values[a:b] for a, b in itertools.pairwise(bounds)]
        medians = [statistics.median(segment) for segment in segments]
        failing: list[tuple[float, float, int]] = []
        for i in range(len(kept)):
            size = _meaningful(medians[i], medians[i + 1], policy)
            p_value = _p_value(segments[i], segments[i + 1])
            if size < 1 or p_value >= policy.alpha:
                failing.append((p_value, -size, i))
        if not failing:
            return tuple(
                ChangePoint(
                    index=start,
                    before=points[start - 1],
                    after=points[start],
                    before_median=medians[i],
                    after_median=medians[i + 1],
                    before_runs=len(segments[i]),
                    after_runs=len(segments[i + 1]),
                )
                for i, start in enumerate(kept)
            )
        del kept[max(failing)[2]]
    return ()


def detect(points: Sequence[Point], policy: Policy = Policy()) -> Detection:
    """The change points of a series ordered oldest first (see the module docstring)."""
    if len(points) < policy.min_runs:
        return Detection(len(points), None, (), enough_runs=False)
    values = [p.value for p in points]
    noise = noise_of(values)
    if noise == 0:
        return Detection(len(points), 0.0, (), enough_runs=True)
    starts = _segment_ends(values, noise, policy)
    return Detection(len(points), noise, _judged(points, starts, policy), enough_runs=True)


@dataclass(frozen=True, slots=True)
class SeriesChange:
    """A change point of one named series (a test, or a perf metric)."""

    name: str
    change_point: ChangePoint
    runs: int


def changes_of_many(
    series: Mapping[str, Sequence[Point]], policy: Policy = Policy()
) -> tuple[tuple[SeriesChange, ...], int]:
    """Every change point of every series with enough runs, the largest absolute change first;
    and how many series had enough runs to be judged."""
    found: list[SeriesChange] = []
    judged = 0
    for name, points in series.items():
        detection = detect(points, policy)
        judged += detection.enough_runs
        found += [SeriesChange(name, cp, detection.runs) for cp in detection.change_points]
    found.sort(key=lambda change: (-abs(change.change_point.change), change.name))
    return tuple(found), judged
