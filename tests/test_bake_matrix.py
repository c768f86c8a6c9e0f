"""The supported option sets bake clean; the unsupported ones are refused.

For each supported set: no Jinja left in any file, exactly the expected file tree (a
committed snapshot per set; UPDATE_SNAPSHOTS=1 rewrites them), every config file parses,
ruff and ruff format are clean with the bake's own configuration, and the parts the
options switched off are gone.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _bake import (
    SNAPSHOTS,
    SUPPORTED,
    TOOLS_BIN,
    UNSUPPORTED,
    bake,
    clean_env,
    parse_config_and_python_files,
    project_files,
    read_text,
    walk_files,
)
from cookiecutter.exceptions import FailedHookException

SUPPORTED_NAMES = list(SUPPORTED)

# What unrendered Jinja looks like once it reaches a file. Two justified exceptions:
# GitHub Actions expressions, `${{ ... }}`, which workflows need literally, and the
# file name cookiecutter.json, which prose may mention (no option is called "json").
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.(?!json\b)")
# Grafana legends and Prometheus alert texts are {{ label }} templates of their own.
UNRENDERED_TEMPLATES = ("monitoring",)


@pytest.mark.parametrize("name", SUPPORTED_NAMES)
def test_no_jinja_left_in_any_file(name: str, baked: Callable[[str], Path]) -> None:
    project = baked(name)
    leftovers = []
    for path in walk_files(project):
        content = read_text(path)
        if content is None or path.relative_to(project).parts[0] in UNRENDERED_TEMPLATES:
            continue
        for number, line in enumerate(content.splitlines(), start=1):
            if LEFTOVER_JINJA.search(line):
                leftovers.append(f"{path.relative_to(project)}:{number}: {line.strip()}")
    assert leftovers == []


@pytest.mark.parametrize("name", SUPPORTED_NAMES)
def test_file_tree_matches_snapshot(name: str, baked: Callable[[str], Path]) -> None:
    actual = [f"{path}\n" for path in project_files(baked(name))]
    snapshot = SNAPSHOTS / f"tree-{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text("".join(actual), encoding="utf-8")
    expected = (
        snapshot.read_text(encoding="utf-8").splitlines(keepends=True) if snapshot.exists() else []
    )
    diff = "".join(difflib.unified_diff(expected, actual, str(snapshot), f"bake of {name}"))
    assert not diff, f"file tree changed (UPDATE_SNAPSHOTS=1 rewrites the snapshot):\n{diff}"


@pytest.mark.parametrize("name", SUPPORTED_NAMES)
def test_every_config_and_python_file_parses(name: str, baked: Callable[[str], Path]) -> None:
    assert parse_config_and_python_files(baked(name)) > 0


@pytest.mark.parametrize("name", SUPPORTED_NAMES)
@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(name: str, command: list[str], baked: Callable[[str], Path]) -> None:
    result = subprocess.run(
        [str(TOOLS_BIN / "ruff"), *command, "--no-cache", "."],
        cwd=baked(name),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Tests of the project's own files and of testkit's metrics, kept without the service.
FRAMEWORK_TESTS = (
    "tests/infrastructure/*.py",
    "tests/observability/test_test_metrics_monitoring.py",
)


def service_tests(project: Path) -> list[str]:
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.glob("tests/*/test_*.py")
        if not path.name.startswith("test_example_")
        and not any(path.relative_to(project).match(pattern) for pattern in FRAMEWORK_TESTS)
    )


@pytest.mark.parametrize("name", SUPPORTED_NAMES)
def test_switched_off_parts_are_removed_and_the_rest_kept(
    name: str, baked: Callable[[str], Path]
) -> None:
    options = {
        "include_sample_service": "yes",
        "use_redis": "yes",
        "use_nats": "yes",
        "ci_provider": "github",
        **SUPPORTED[name],
    }
    project = baked(name)
    service = options["include_sample_service"] == "yes"
    present = {
        "services/api": service,
        "tests/_fixtures/service.py": service,
        "tests/integration/test_example_redis.py": options["use_redis"] == "yes",
        "tests/integration/test_example_nats.py": options["use_nats"] == "yes",
        ".github": options["ci_provider"] == "github",
    }
    assert {path: (project / path).exists() for path in present} == present
    assert (project / "packages/testkit/pyproject.toml").is_file()
    if not service:
        assert service_tests(project) == []
        # Without the service every tier still holds examples that exercise testkit.
        empty_tiers = [
            tier
            for tier in ("unit", "property", "integration")
            if not list(project.glob(f"tests/{tier}/test_example_*.py"))
        ]
        assert empty_tiers == []


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported_combination_is_refused(
    name: str,
    template: Path,
    cookiecutter_config: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    options, missing, service = UNSUPPORTED[name]
    capfd.readouterr()
    with pytest.raises(FailedHookException):
        bake(template, tmp_path, cookiecutter_config, options)

    assert capfd.readouterr().err.splitlines() == [
        f"ERROR: {missing}='no' is invalid with include_sample_service='yes': the reference"
        f" service needs {service}; set {missing}=yes or include_sample_service=no"
    ]
    assert list(tmp_path.iterdir()) == []


def test_bake_prints_next_steps(
    template: Path, cookiecutter_config: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    project = bake(template, tmp_path, cookiecutter_config, SUPPORTED["minimal"])
    out = capfd.readouterr().out
    assert f"  cd {project}\n" in out
    assert "  make test " in out
    assert "  make help " in out
    assert "docs/testing.md" in out
    assert (project / "docs/testing.md").is_file()


def test_testkit_is_copied_byte_for_byte(baked: Callable[[str], Path], template: Path) -> None:
    # packages/testkit is `_copy_without_render`: Jinja-looking text in it must survive a bake.
    source = template / "{{cookiecutter.project_slug}}" / "packages" / "testkit"
    copied = baked("default") / "packages" / "testkit"
    source_files = project_files(source)
    assert source_files == project_files(copied)
    for relative in source_files:
        assert (copied / relative).read_bytes() == (source / relative).read_bytes(), relative
