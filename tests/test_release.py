"""Template releases: one version in three places, recorded by every bake, and the upgrade a team
makes from the previous release (scripts/release_upgrade.py, `make upgrade-check`)."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from _bake import REAL_SERVICES, TEMPLATE_ROOT, run, template_module

release_upgrade = template_module("scripts/release_upgrade.py")

CHANGELOG = (TEMPLATE_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_changelog_keeps_a_changelog_unreleased_first_then_releases_newest_first() -> None:
    headings = [(m["name"], m["date"]) for m in HEADING.finditer(CHANGELOG)]

    assert headings[0] == ("Unreleased", None)
    versions = [name for name, _ in headings[1:]]
    assert versions == release_upgrade.release_versions(CHANGELOG)
    assert versions == sorted(versions, key=version_key, reverse=True)
    assert all(date is not None for _, date in headings[1:]), headings
    dates = [date for _, date in headings[1:]]
    assert dates == sorted(dates, reverse=True)


def test_the_newest_release_is_the_version_cookiecutter_and_pyproject_record() -> None:
    newest = release_upgrade.release_versions(CHANGELOG)[0]
    context = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    pyproject = tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    assert context["_template_version"] == newest
    assert pyproject["project"]["version"] == newest


def test_a_bake_records_the_release(baked: Callable[[str], Path]) -> None:
    project = baked("default")
    newest = release_upgrade.release_versions(CHANGELOG)[0]

    assert (project / ".template-version").read_text(encoding="utf-8") == f"{newest}\n"


def test_the_previous_release_is_the_newest_one_that_is_not_head() -> None:
    commits = {"0.3.0": "c3", "0.2.0": "c2", "0.1.0": "c1"}
    versions = ["0.3.0", "0.2.0", "0.1.0"]

    assert release_upgrade.previous_release(versions, "c3", commits).version == "0.2.0"
    assert release_upgrade.previous_release(versions, "later", commits).version == "0.3.0"
    untraced = {**commits, "0.3.0": None}  # no tag and no commit adding the heading
    assert release_upgrade.previous_release(versions, "later", untraced).version == "0.2.0"
    with pytest.raises(release_upgrade.UpgradeCheckError, match="no previous release"):
        release_upgrade.previous_release(["0.1.0"], "c1", commits)


def test_every_release_resolves_to_a_commit_of_this_repository() -> None:
    for version in release_upgrade.release_versions(CHANGELOG):
        assert release_upgrade.release_commit(version) is not None, version


@pytest.mark.slow
@pytest.mark.xdist_group("upgrade-check")
def test_the_previous_release_updates_to_head_with_cruft_and_copier(
    cookiecutter_config: Path, tmp_path: Path
) -> None:
    # What the template's CI upgrade-check job runs, with the unit tier for the make test.
    result = run(
        TEMPLATE_ROOT,
        sys.executable,
        "scripts/release_upgrade.py",
        "--make-arg",
        "ARGS=-m unit",
        "--keep",
        str(tmp_path / "work"),
        timeout=1800,
        COOKIECUTTER_CONFIG=str(cookiecutter_config),
        **REAL_SERVICES,
    )

    assert result.returncode == 0, result.stdout[-4000:]
    if "is the first release (HEAD)" in result.stdout:
        pytest.skip("HEAD is the template's first release: no earlier one to update from")
    rows = re.findall(r"^(cruft|copier)\s+(PASS|FAIL)\s+\d+\s+(.*)$", result.stdout, re.M)
    assert [tool for tool, _, _ in rows] == ["cruft", "copier"], result.stdout
    assert all(verdict == "PASS" for _, verdict, _ in rows), result.stdout
    for tool in ("cruft", "copier"):
        kept = next((tmp_path / "work" / tool).rglob(release_upgrade.TEAM_TEST[0]))
        assert kept.read_text(encoding="utf-8") == release_upgrade.TEAM_TEST[1]
