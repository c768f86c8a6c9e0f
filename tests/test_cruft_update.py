"""The upgrade path (slow): bake with `cruft create`, edit as a user would, `cruft update`.

A temporary git repository holds two commits of the template (tests/_template_release.py:
the team's edits and the template's release beside them). The project is baked from the first
with `cruft create`, committed and edited. `make template-update` (cruft update) must merge
the second commit with no conflicts and no .rej files, keep every edit, and leave a project
whose `make test` still collects every test and passes its unit tier.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from _bake import GIT, cruft_create_command, make, ok, run
from _template_release import (
    assert_merged,
    commit_all,
    edit_as_a_team,
    release_template_v2,
    template_v1,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cruft-update")]


def test_cruft_update_merges_a_template_release_into_an_edited_project(
    template: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    repo = template_v1(template, tmp_path / "proving-ground")
    ok(run(tmp_path, *cruft_create_command(repo, cookiecutter_config, tmp_path / "out")))
    (project,) = (tmp_path / "out").iterdir()
    ok(run(project, *GIT, "init", "--quiet"))
    commit_all(project, "baked")
    edit_as_a_team(project)
    ok(make(project, "template-check"))  # up to date with v1

    release_template_v2(repo)
    stale = make(project, "template-check")
    assert stale.returncode != 0, stale.stdout
    ok(make(project, "template-update"))

    assert_merged(project)
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
