"""Every CI workflow parses, runs only make targets that exist, and pins testkit's images."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.consistency.compose import image_problems
from testkit.consistency.workflows import (
    make_calls,
    make_targets,
    parse_workflow,
    service_images,
)
from testkit.infra.testcontainers import SPECS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))


@pytest.fixture(scope="module")
def targets() -> set[str]:
    return make_targets(ROOT)


def test_make_knows_the_everyday_targets(targets: set[str]) -> None:
    # Guards the parser itself: a database read wrong would make every check below vacuous.
    assert {"install", "test", "test-unit", "test-infrastructure", "help"} <= targets


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_the_workflow_runs_only_targets_that_exist(workflow: Path, targets: set[str]) -> None:
    document = parse_workflow(workflow.read_text(encoding="utf-8"), source=workflow.name)
    calls = make_calls(document, source=workflow.name)
    missing = [
        f"{call.where}: make {target}"
        for call in calls
        for target in call.targets
        if target not in targets
    ]
    assert missing == [], "targets make does not know:\n" + "\n".join(missing)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_the_workflow_services_use_testkits_images(workflow: Path) -> None:
    document = parse_workflow(workflow.read_text(encoding="utf-8"), source=workflow.name)
    problems = image_problems(workflow.name, service_images(document), SPECS)
    assert problems == [], "\n".join(problems)
