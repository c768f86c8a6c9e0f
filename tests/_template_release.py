"""A template release and a team's edits, for the upgrade tests (cruft update, copier update).

A project is baked from a template repository's first commit, committed, then edited the way
a team edits its copy: a new test, a changed gate setting, an extra Makefile target. The
template's second commit changes lines near (not on) those edits and adds a file. An update
must merge it with no conflicts and no .rej files, and keep every edit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from _bake import GIT, ok, run, walk_files

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


def template_v1(template: Path, destination: Path) -> Path:
    """A template repository of its own (the test adds the second commit to it)."""
    shutil.copytree(template, destination)
    ok(run(destination, *GIT, "init", "--quiet"))
    commit_all(destination, "template v1")
    return destination


def edit_as_a_team(project: Path) -> None:
    """The team's edits, committed on top of the committed bake."""
    (project / USER_TEST[0]).write_text(USER_TEST[1], encoding="utf-8")
    replace(project / "pyproject.toml", *USER_SETTING)
    with (project / "Makefile").open("a", encoding="utf-8") as makefile:
        makefile.write(USER_TARGET)
    commit_all(project, "team edits")


def release_template_v2(repo: Path) -> None:
    for relative, before, after in TEMPLATE_CHANGES:
        replace(repo / relative, before, after)
    (repo / PROJECT_DIR / ADDED_FILE[0]).write_text(ADDED_FILE[1], encoding="utf-8")
    commit_all(repo, "template v2")


def assert_merged(project: Path) -> None:
    """The release arrived, every team edit is kept, no conflict is left."""
    assert [p for p in walk_files(project) if p.suffix == ".rej"] == []
    conflicted = [p for p in walk_files(project) if p.is_file() and b"<<<<<<< " in p.read_bytes()]
    assert conflicted == []
    for relative, _, after in TEMPLATE_CHANGES:
        assert after in (project / relative.removeprefix(f"{PROJECT_DIR}/")).read_text()
    assert (project / ADDED_FILE[0]).read_text(encoding="utf-8") == ADDED_FILE[1]
    assert (project / USER_TEST[0]).read_text(encoding="utf-8") == USER_TEST[1]
    assert USER_SETTING[1] in (project / "pyproject.toml").read_text(encoding="utf-8")
    assert (project / "Makefile").read_text(encoding="utf-8").endswith(USER_TARGET)
