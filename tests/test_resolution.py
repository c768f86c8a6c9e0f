"""Bakes resolve as of the date the template records; the canary names what broke a bake.

Two bakes of one template commit lock the same versions, none uploaded after the recorded
date, whatever day they are made. The newest-deps canary (scripts/canary.py) relocks a bake
with no date limit and, when the bake's targets fail, names the locked versions that moved:
here a pytest release below the bake's minversion stands in for a breaking upstream release.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from _bake import (
    SUPPORTED,
    TEMPLATE_ROOT,
    TOOLS_BIN,
    bake,
    clean_env,
    installed_default_bake,
    run_in,
)

CANARY = TEMPLATE_ROOT / "scripts" / "canary.py"
RECORDED_DATE = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())["_uv_exclude_newer"]


def uv_lock(project: Path) -> dict[str, Any]:
    subprocess.run(
        [str(TOOLS_BIN / "uv"), "lock", "--quiet"],
        cwd=project,
        env=clean_env(),
        check=True,
        timeout=300,
    )
    return tomllib.loads((project / "uv.lock").read_text(encoding="utf-8"))


def upload_times(lock: dict[str, Any]) -> list[datetime]:
    times = []
    for package in lock["package"]:
        for artifact in [package.get("sdist", {}), *package.get("wheels", [])]:
            if "upload-time" in artifact:
                times.append(datetime.fromisoformat(artifact["upload-time"]))
    return times


@pytest.mark.slow
def test_two_bakes_lock_the_same_versions_none_newer_than_the_recorded_date(
    template: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    locks = [
        uv_lock(bake(template, tmp_path / name, cookiecutter_config, SUPPORTED["default"]))
        for name in ("monday", "friday")
    ]
    versions = [{p["name"]: p.get("version") for p in lock["package"]} for lock in locks]
    assert versions[0] == versions[1]
    assert len(versions[0]) > 50
    assert locks[0]["options"] == {"exclude-newer": RECORDED_DATE}
    recorded = datetime.fromisoformat(RECORDED_DATE)
    times = upload_times(locks[0])
    assert times, "uv.lock records no upload times"
    assert max(times) <= recorded


def run_canary(template: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CANARY), "--template", str(template), *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_the_canary_names_the_release_that_broke_a_bake(template: Path, tmp_path: Path) -> None:
    result = run_canary(
        template,
        "run",
        "--bakes",
        "minimal",
        "--output",
        str(tmp_path / "canary"),
        "--override",
        "pytest==8.2.0",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "canary minimal: `make upgrade-deps` failed" in output
    assert re.search(r"^  pytest \S+ -> 8\.2\.0$", output, flags=re.MULTILINE), output
    assert f"since the recorded date {RECORDED_DATE}" in output
    # The bake's own log holds the real error under the step that failed.
    log = (tmp_path / "canary" / "minimal.log").read_text(encoding="utf-8")
    assert "'minversion' requires pytest-8.3, actual pytest-8.2.0" in log
    assert not (tmp_path / "canary" / "tested-date").exists()


def test_move_date_records_a_new_date_and_keeps_the_rest(template: Path, tmp_path: Path) -> None:
    copy = tmp_path / "template"
    copy.mkdir()
    shutil.copy2(template / "cookiecutter.json", copy / "cookiecutter.json")
    before = json.loads((copy / "cookiecutter.json").read_text(encoding="utf-8"))

    moved = run_canary(copy, "move-date", "2030-01-02T03:04:05Z")
    assert moved.returncode == 0, moved.stderr
    after = json.loads((copy / "cookiecutter.json").read_text(encoding="utf-8"))
    assert after == {**before, "_uv_exclude_newer": "2030-01-02T03:04:05Z"}

    refused = run_canary(copy, "move-date", "next tuesday")
    assert refused.returncode == 2
    assert "must look like 2026-12-06T00:00:00Z" in refused.stderr
    assert json.loads((copy / "cookiecutter.json").read_text(encoding="utf-8")) == after


# The redis-py tests of the service and testkit, run at the oldest release the ranges allow
# (the newest is what the canary and the recorded date install).
REDIS_TESTS = (
    "tests/unit/test_redis_client.py",
    "tests/integration/test_example_redis.py",
    "tests/integration/test_connection_recovery.py",
    "tests/integration/test_search_cache_decoding.py",
    "tests/integration/test_readiness.py",
    "tests/property/test_rate_limiter_bounds.py",
    "tests/chaos/test_redis_outage.py",
    "packages/testkit/tests/integration/test_fault_proxy_redis.py",
    "packages/testkit/tests/integration/test_leftovers.py",
)


def lowest_allowed(pyproject: Path, package: str) -> str:
    """The lower bound of `package>=X` among a pyproject's dependencies and extras."""
    bounds = re.findall(rf'"{package}>=([0-9][0-9.]*)', pyproject.read_text(encoding="utf-8"))
    assert bounds, f"{pyproject} has no {package}>= requirement"
    assert len(set(bounds)) == 1, f"{pyproject} gives {package} several lower bounds: {bounds}"
    return bounds[0]


@pytest.mark.slow
def test_the_service_and_testkit_work_with_the_oldest_redis_their_ranges_allow(
    template: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    project = installed_default_bake(template, tmp_path, cookiecutter_config)
    lowest = lowest_allowed(project / "services/api/pyproject.toml", "redis")
    assert lowest == lowest_allowed(project / "packages/testkit/pyproject.toml", "redis")
    subprocess.run(
        [
            str(TOOLS_BIN / "uv"),
            "pip",
            "install",
            "--quiet",
            "--python",
            ".venv/bin/python",
            f"redis=={lowest}",
        ],
        cwd=project,
        env=clean_env(),
        check=True,
        timeout=300,
    )
    result = run_in(project, ".venv/bin/pytest", "-q", "-p", "no:randomly", *REDIS_TESTS)
    assert result.returncode == 0, result.stdout[-4000:]
    installed = subprocess.run(
        [".venv/bin/python", "-c", "import redis; print(redis.__version__)"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert installed.stdout.strip() in {lowest, f"{lowest}.0"}
