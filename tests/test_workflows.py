"""Every workflow, generated or the template's own, is valid against GitHub's JSON schemas."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _bake import TEMPLATE_ROOT, TOOLS_BIN


def check_jsonschema(schema: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    # check-jsonschema ships the schemas (vendored from SchemaStore), so this runs offline.
    return subprocess.run(
        [str(TOOLS_BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("bake_name", ["default", "python-3.13"])
def test_generated_workflows_match_the_github_workflow_schema(
    baked: Callable[[str], Path], bake_name: str
) -> None:
    workflows = sorted((baked(bake_name) / ".github" / "workflows").glob("*.yml"))
    assert workflows, "the github bake has no workflows"
    result = check_jsonschema("vendor.github-workflows", workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_dependabot_config_matches_its_schema(baked: Callable[[str], Path]) -> None:
    result = check_jsonschema(
        "vendor.dependabot", [baked("default") / ".github" / "dependabot.yml"]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_templates_own_workflows_match_the_schema() -> None:
    workflows = sorted((TEMPLATE_ROOT / ".github" / "workflows").glob("*.yml"))
    result = check_jsonschema("vendor.github-workflows", workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_workflow_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    steps: []\n", encoding="utf-8")
    result = check_jsonschema("vendor.github-workflows", [broken])
    assert result.returncode != 0
