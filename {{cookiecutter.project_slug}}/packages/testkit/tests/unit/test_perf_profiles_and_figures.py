from __future__ import annotations

from pathlib import Path

import pytest

from testkit.cli import main
from testkit.perf.figures import Sample, percentile, read_samples, window_figures, write_samples
from testkit.perf.profiles import PROFILES, ProfileError, parse_scale, resolve_profile


def test_profiles_carry_the_spec_seed_values() -> None:
    shapes = {name: (p.users, p.spawn_rate, p.run_time_s) for name, p in PROFILES.items()}

    assert shapes["baseline"] == (100, 10, 300)
    assert shapes["stress"] == (1000, 50, 600)
    assert shapes["spike"] == (5000, 100, 60)
    assert PROFILES["smoke"].run_time_s < 60


def test_scale_shrinks_users_and_spawn_rate_but_never_below_one() -> None:
    stress = resolve_profile("stress", scale=0.01)

    assert (stress.users, stress.spawn_rate, stress.run_time_s) == (10, 1.0, 600)
    assert resolve_profile("baseline", scale=0.001).users == 1


def test_smoke_is_never_scaled() -> None:
    assert resolve_profile("smoke", scale=0.1) == PROFILES["smoke"]


def test_unknown_profile_is_refused_naming_it_and_the_valid_ones() -> None:
    with pytest.raises(ProfileError) as error:
        resolve_profile("soak")

    assert str(error.value) == (
        "unknown perf profile 'soak'; valid profiles: smoke, baseline, stress, spike"
    )


@pytest.mark.parametrize("raw", ["0", "1.5", "-1", "fast"])
def test_bad_scale_is_refused(raw: str) -> None:
    with pytest.raises(ProfileError, match=rf"PERF_SCALE must be a number in \(0, 1\].*{raw!r}"):
        parse_scale(raw)


def test_unset_scale_means_one() -> None:
    assert parse_scale(None) == parse_scale("") == 1.0


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]

    assert percentile(values, 50) == 2.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)


def test_window_figures_count_only_requests_started_inside_the_window() -> None:
    samples = [
        Sample("GET /search", 0.5, 100.0, False),  # warm-up: outside
        Sample("GET /search", 1.0, 10.0, False),
        Sample("GET /search", 2.0, 30.0, False),
        Sample("POST /ask", 2.5, 50.0, True),
        Sample("GET /search", 3.0, 999.0, False),  # at the end: outside
    ]

    figures = window_figures(samples, start_s=1.0, end_s=3.0)

    assert figures.total.requests == 3
    assert figures.total.failures == 1
    assert figures.total.rps == 1.5
    assert figures.endpoints["GET /search"].p50_ms == 20.0
    # Failed requests count in the error rate, not in the latencies.
    assert figures.endpoints["POST /ask"].p50_ms is None
    assert figures.endpoints["POST /ask"].error_rate == 1.0


def test_samples_round_trip_through_csv(tmp_path: Path) -> None:
    samples = [Sample("GET /search", 0.25, 12.5, False), Sample("WS /ws event", 1.0, 200.0, True)]

    write_samples(tmp_path / "samples.csv", samples)

    assert read_samples(tmp_path / "samples.csv") == samples


def test_a_file_that_is_not_samples_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "stats.csv"
    path.write_text("Type,Name\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"stats\.csv is not a samples file"):
        read_samples(path)


def test_perf_cli_refuses_an_unknown_profile_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["perf", "run", "--profile", "nope"]) == 2

    assert capsys.readouterr().err == (
        "testkit perf: unknown perf profile 'nope'; valid profiles: smoke, baseline, stress, "
        "spike\n"
    )


def test_perf_gate_without_a_baseline_says_how_to_record_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "perf",
            "gate",
            "--baselines-dir",
            str(tmp_path),
            "--pyproject",
            str(tmp_path / "pyproject.toml"),
        ]
    )

    assert code == 2
    assert "make perf-baseline PROFILE=smoke" in capsys.readouterr().err
