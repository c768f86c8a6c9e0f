"""The upgrade path (slow): bake with `cruft create`, edit as a user would, `cruft update`.

A temporary git repository holds two commits of the template. The project is baked from
the first with `cruft create`, committed, then edited the way a team edits its copy: a new
test, a changed gate setting, an extra Makefile target. The template's second commit
changes lines near (not on) those edits and adds a file. `make template-update` (cruft
update) must merge it with no conflicts and no .rej files, keep every edit, and leave a
project whose `make test` still collects every test and passes its unit tier.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from _bake import GIT, cruft_create_command, make, ok, run, walk_files

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cruft-update")]

GIT_COMMIT = [*GIT, "commit", "--quiet", "-m"]
PROJECT_DIR = "{{cookiecutter.project_slug}}"

# (file, text before, text after): the template's second commit.
TEMPLATE_CHANGES = (
    (
        f"{PROJECT_DIR}/Makefile",
        "lint: install ## ruff lint and format check",
        "lint: install ## ruff lint and format check (changes nothing)",
    ),
    (
        f"{PROJECT_DIR}/make/testing.mk",
        "# The tiers this project has a folder for, in that order.",
        "# The tiers this project has a folder for, in the order of make/tiers.mk.",
    ),
    (
        f"{PROJECT_DIR}/pyproject.toml",
        "[tool.coverage.report]\nshow_missing = true\n",
        "[tool.coverage.report]\nshow_missing = true\nskip_empty = true\n",
    ),
)
ADDED_FILE = (
    "docs/upgrade-notes.md",
    "# Upgrade notes\n\nWhat changed in this template release.\n",
)

USER_TEST = (
    "tests/unit/test_added_by_the_team.py",
    'def test_the_team_owns_this_test() -> None:\n    assert "team".upper() == "TEAM"\n',
)
USER_SETTING = ("coverage_threshold = 80", "coverage_threshold = 85")
USER_TARGET = "\n.PHONY: team-docs\nteam-docs: ## The team's own target\n\t@ls docs\n"


def replace(path: Path, before: str, after: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert before in text, f"{path}: {before!r} not found"
    path.write_text(text.replace(before, after, 1), encoding="utf-8")


def commit_all(repo: Path, message: str) -> None:
    ok(run(repo, *GIT, "add", "--all"))
    ok(run(repo, *GIT_COMMIT, message))


@pytest.fixture
def template_v1(template: Path, tmp_path: Path) -> Path:
    """A template repository of its own (this test adds a commit to it)."""
    repo = tmp_path / "proving-ground"
    shutil.copytree(template, repo)
    ok(run(repo, *GIT, "init", "--quiet"))
    commit_all(repo, "template v1")
    return repo


def test_cruft_update_merges_a_template_release_into_an_edited_project(
    template_v1: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    ok(run(tmp_path, *cruft_create_command(template_v1, cookiecutter_config, tmp_path / "out")))
    (project,) = (tmp_path / "out").iterdir()
    ok(run(project, *GIT, "init", "--quiet"))
    commit_all(project, "baked")

    # The team's edits.
    (project / USER_TEST[0]).write_text(USER_TEST[1], encoding="utf-8")
    replace(project / "pyproject.toml", *USER_SETTING)
    with (project / "Makefile").open("a", encoding="utf-8") as makefile:
        makefile.write(USER_TARGET)
    commit_all(project, "team edits")
    ok(make(project, "template-check"))  # up to date with v1

    # The template's next release.
    for relative, before, after in TEMPLATE_CHANGES:
        replace(template_v1 / relative, before, after)
    (template_v1 / PROJECT_DIR / ADDED_FILE[0]).write_text(ADDED_FILE[1], encoding="utf-8")
    commit_all(template_v1, "template v2")

    stale = make(project, "template-check")
    assert stale.returncode != 0, stale.stdout
    ok(make(project, "template-update"))

    assert [p for p in walk_files(project) if p.suffix == ".rej"] == []
    conflicted = [p for p in walk_files(project) if p.is_file() and b"<<<<<<< " in p.read_bytes()]
    assert conflicted == []
    for relative, _, after in TEMPLATE_CHANGES:
        assert after in (project / relative.removeprefix(f"{PROJECT_DIR}/")).read_text()
    assert (project / ADDED_FILE[0]).read_text(encoding="utf-8") == ADDED_FILE[1]
    assert (project / USER_TEST[0]).read_text(encoding="utf-8") == USER_TEST[1]
    assert USER_SETTING[1] in (project / "pyproject.toml").read_text(encoding="utf-8")
    assert (project / "Makefile").read_text(encoding="utf-8").endswith(USER_TARGET)
    ok(make(project, "template-check"))  # the update recorded v2 in .cruft.json

    # The whole suite is collected (an import broken by the merge fails here) and the unit tier
    # runs, the team's test among it; the other tiers' runs of this code are other tests' job.
    ok(make(project, "test", "ARGS=-m unit", services=True, timeout=1200))
    junit = ElementTree.parse(project / "reports" / "junit.xml").getroot()
    (team_case,) = [
        c for c in junit.iter("testcase") if c.get("name") == "test_the_team_owns_this_test"
    ]
    assert list(team_case) == []  # no <failure>, <error> or <skipped> child: it ran and passed
    assert "team-docs" in ok(make(project, "help"))
