"""The change-point detector on synthetic series: a step is found where it is, noise is not."""

from __future__ import annotations

import random
import re

import pytest

pytest.importorskip("ruptures", reason="the analytics extra (ruptures) is not installed")

from testkit.analytics.changepoints import (
    DURATION_POLICY,
    ChangePoint,
    Point,
    Policy,
    changes_of_many,
    detect,
    noise_of,
)


def series(values: list[float]) -> list[Point]:
    return [Point(f"commit{i:02d}", 1_700_000_000.0 + 3600 * i, v) for i, v in enumerate(values)]


def noisy(level: float, runs: int, noise: float, rng: random.Random) -> list[float]:
    return [level * (1 + rng.gauss(0, noise)) for _ in range(runs)]


def test_a_step_of_30_percent_after_15_runs_is_found_at_run_15_with_its_commit_range() -> None:
    rng = random.Random(18)
    points = series(noisy(100.0, 15, 0.05, rng) + noisy(130.0, 15, 0.05, rng))

    detection = detect(points)

    assert [cp.index for cp in detection.change_points] == [15]
    (found,) = detection.change_points
    assert found.span == "commit14..commit15"
    assert (found.before.label, found.after.label) == ("commit14", "commit15")
    assert found.before_median == pytest.approx(100.0, rel=0.05)
    assert found.after_median == pytest.approx(130.0, rel=0.05)
    assert found.relative_change == pytest.approx(0.30, abs=0.07)
    assert (found.before_runs, found.after_runs) == (15, 15)


@pytest.mark.parametrize("seed", range(20))
def test_a_flat_series_with_5_percent_noise_has_no_change_point(seed: int) -> None:
    points = series(noisy(100.0, 40, 0.05, random.Random(seed)))

    detection = detect(points)

    assert detection.enough_runs
    assert detection.change_points == ()


@pytest.mark.parametrize("factor", [3.0, 0.2])
def test_one_outlying_run_is_not_a_change_point(factor: float) -> None:
    values = noisy(100.0, 30, 0.05, random.Random(7))
    values[12] *= factor

    assert detect(series(values)).change_points == ()


def test_a_shift_below_the_relative_threshold_is_not_listed_however_clear() -> None:
    """2 % with 0.2 % noise is ten noise widths, and still not worth a line."""
    rng = random.Random(3)
    points = series(noisy(100.0, 15, 0.002, rng) + noisy(102.0, 15, 0.002, rng))

    assert detect(points).change_points == ()
    assert [cp.index for cp in detect(points, Policy(min_relative=0.01)).change_points] == [15]


def test_test_durations_below_the_absolute_floor_never_change() -> None:
    """A 2 ms test doubling to 4 ms is +100 % and not worth a line (durations' 50 ms floor)."""
    rng = random.Random(5)
    points = series(noisy(0.002, 15, 0.05, rng) + noisy(0.004, 15, 0.05, rng))

    assert [cp.index for cp in detect(points).change_points] == [15]
    assert detect(points, DURATION_POLICY).change_points == ()


def test_a_faster_level_is_a_negative_change() -> None:
    rng = random.Random(11)
    points = series(noisy(100.0, 20, 0.05, rng) + noisy(70.0, 10, 0.05, rng))

    (found,) = detect(points).change_points

    assert found.index == 20
    assert found.relative_change == pytest.approx(-0.30, abs=0.07)


def test_too_few_runs_give_no_verdict() -> None:
    detection = detect(series([1.0, 2.0, 3.0]))

    assert not detection.enough_runs
    assert detection.change_points == ()
    assert detection.runs == 3


def test_a_constant_series_has_no_noise_and_no_change_point() -> None:
    detection = detect(series([5.0] * 20))

    assert detection.noise == 0.0
    assert detection.change_points == ()


@pytest.mark.parametrize(
    "values",
    [
        [10.0] * 3 + [11.0] + [10.0] * 8 + [20.0] * 12,  # quantised: most differences are 0
        [(10.0 if i < 8 else 15.0) + (i % 3) * 0.2 for i in range(16)],  # a float "zero" MAD
    ],
    ids=["quantised", "periodic"],
)
def test_a_step_in_a_series_whose_differences_have_no_mad_is_still_found(
    values: list[float],
) -> None:
    """The MAD of the differences is 0 (or rounding's few ulps); their mean deviation stands in."""
    assert noise_of(values) > 1e-6
    assert [cp.index for cp in detect(series(values)).change_points] == [len(values) // 2]


def test_many_series_are_ranked_by_their_absolute_change() -> None:
    rng = random.Random(2)
    small = series(noisy(1.0, 15, 0.03, rng) + noisy(1.5, 15, 0.03, rng))
    large = series(noisy(10.0, 15, 0.03, rng) + noisy(13.0, 15, 0.03, rng))
    short = series([1.0, 9.0])

    found, judged = changes_of_many({"t::small": small, "t::large": large, "t::short": short})

    assert [change.name for change in found] == ["t::large", "t::small"]
    assert judged == 2
    assert isinstance(found[0].change_point, ChangePoint)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_segment", 1, "min_segment must be an integer of 2 or more, got 1"),
        ("min_runs", 4, "min_runs must be at least 2 * min_segment"),
        ("penalty_factor", 0.0, "penalty_factor must be above 0, got 0.0"),
        ("min_relative", -0.1, "min_relative must be 0 or more, got -0.1"),
        ("alpha", 1.5, "alpha must be above 0 and at most 1, got 1.5"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"change-point policy: {message}")):
        Policy(**{field: value})  # type: ignore[arg-type]
