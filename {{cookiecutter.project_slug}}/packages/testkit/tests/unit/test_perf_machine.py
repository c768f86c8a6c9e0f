"""The perf gate's machine check and its request: pure decisions, no load run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from testkit.perf.calibration import Calibration, compare_machines, fingerprint
from testkit.perf.request import request_from
from testkit.perf.summary import read_baseline
from testkit.usage import UsageError

HOST = {
    "hostname": "ci-1",
    "cpu_model": "AMD EPYC",
    "usable_cpus": 2,
    "machine": "x86_64",
    "python": "3.11.9",
}
IDLE = [Calibration(contention=1.01, cpu_s=0.30), Calibration(contention=1.01, cpu_s=0.31)]


def test_the_same_machine_as_busy_is_comparable() -> None:
    check = compare_machines(HOST, IDLE, dict(HOST), [Calibration(1.03, 0.32)])

    assert check.comparable
    assert check.reasons == ()


def test_a_cpu_hog_on_one_of_two_cores_makes_it_incomparable() -> None:
    check = compare_machines(HOST, IDLE, dict(HOST), [Calibration(1.5, 0.30)])

    assert not check.comparable
    assert check.reasons == (
        "CPU contention 1.01 -> 1.50 (wall/CPU time of the calibration; tolerance 10%)",
    )


def test_a_baseline_taken_under_load_is_not_compared_with_an_idle_machine_either() -> None:
    busy = [Calibration(1.5, 0.30)] * 3

    assert not compare_machines(HOST, busy, dict(HOST), IDLE).comparable


def test_a_slower_core_is_named() -> None:
    check = compare_machines(HOST, IDLE, dict(HOST), [Calibration(1.01, 0.45)])

    assert check.reasons == (
        "core speed 0.305 s -> 0.450 s for the calibration loop (tolerance 25%)",
    )


def test_another_machine_is_named_key_by_key() -> None:
    laptop = HOST | {"hostname": "laptop", "usable_cpus": 8}

    check = compare_machines(laptop, IDLE, HOST, IDLE)

    assert check.reasons == ("hostname 'laptop' -> 'ci-1'", "usable_cpus 8 -> 2")


def test_a_baseline_without_calibration_is_never_comparable() -> None:
    check = compare_machines({}, [], HOST, IDLE)

    assert check.reasons == (
        "the baseline has no machine fingerprint and calibration; re-record it",
    )


def test_this_machine_has_a_fingerprint() -> None:
    assert set(fingerprint()) == {"hostname", "cpu_model", "usable_cpus", "machine", "python"}
    assert fingerprint()["usable_cpus"] >= 1


def arguments(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "perf_command": "gate",
        "profile": "smoke",
        "scale": None,
        "locustfile": Path("tests/perf/locustfile.py"),
        "workers": 0,
        "base_url": None,
        "admin_token": None,
        "app": "app.main:create_app",
        "service_dir": Path("services/api"),
        "migrate": "alembic upgrade head",
        "server_env": "APP_ENV=test",
        "admin_token_env": "",
        "drop_env_prefix": "",
        "health_path": "/readyz",
        "reports_dir": Path("locust-reports"),
        "baselines_dir": Path("perf/baselines"),
        "pyproject": Path("pyproject.toml"),
    }
    return argparse.Namespace(**(values | given))


def test_the_request_is_built_once_with_the_defaults() -> None:
    request = request_from(arguments(base=" main "))

    assert request.base == "main"
    assert (request.pairs, request.max_pairs, request.alpha, request.strict) == (6, 30, 0.05, False)
    assert request.service.migrate == ("alembic", "upgrade", "head")
    assert request.baseline_path == Path("perf/baselines/smoke.json")
    assert request.round_s() == 6.0
    assert request.round_s(recorded=4.0) == 4.0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"pairs": 4}, "--pairs 4 can never reach significance"),
        ({"alpha": 1.5}, "--alpha must be between 0 and 1, got 1.5"),
        ({"round_seconds": 0.0}, "--round-seconds must be above 0, got 0"),
        ({"workers": -1}, "PERF_WORKERS must be 0 or more, got -1"),
        ({"pairs": 8, "max_pairs": 7}, "--max-pairs 7 is below --pairs 8"),
        ({"perf_command": "baseline", "rounds": 2}, "--rounds must be at least 3"),
        ({"perf_command": "ab", "base": ""}, "perf-ab needs the base revision: BASE=<git ref>"),
        ({"base": "main", "base_url": "http://x"}, "unset TEST_BASE_URL"),
    ],
)
def test_bad_requests_are_refused_naming_the_option(given: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("+", r"\+")):
        request_from(arguments(**given))


def test_a_baseline_recorded_before_calibrations_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "smoke.json"
    total = {"requests": 100, "failures": 0, "error_rate": 0.0, "rps": 25.0, "p50_ms": 9.0}
    round_figures = {"duration_s": 4.0, "total": total, "endpoints": {}}
    path.write_text(
        json.dumps({"rounds": [round_figures] * 3, "metadata": {"commit": "abc", "dirty": False}})
    )

    recorded = read_baseline(path)

    assert (recorded.commit, recorded.dirty, recorded.calibrations) == ("abc", False, ())
    assert not compare_machines(recorded.machine, recorded.calibrations, HOST, IDLE).comparable


def test_a_malformed_baseline_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "smoke.json"
    path.write_text('{"rounds": 3}')

    with pytest.raises(UsageError, match=r"smoke\.json is not a perf baseline"):
        read_baseline(path)
