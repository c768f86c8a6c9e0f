"""Every workflow, generated or the template's own, is valid against GitHub's JSON schemas."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from _bake import TEMPLATE_ROOT, TOOLS_BIN, clean_env


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


def zizmor(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    # --offline: the audits that need GitHub's API are skipped; the rest run here.
    return subprocess.run(
        [str(TOOLS_BIN / "zizmor"), "--offline", "--no-progress", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_generated_and_own_workflows_have_no_zizmor_findings(
    baked: Callable[[str], Path],
) -> None:
    result = zizmor([baked("default") / ".github", TEMPLATE_ROOT / ".github"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


def test_zizmor_catches_an_injectable_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: pull_request_target\npermissions: write-all\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n",
        encoding="utf-8",
    )
    result = zizmor([tmp_path / ".github"])
    assert result.returncode != 0
    assert "template-injection" in result.stdout + result.stderr


MAKE_TARGET = re.compile(r"^[a-z][a-z0-9-]*$")


def make_targets_in(workflow: Path) -> set[str]:
    """The targets of every `make a b VAR=x` command in a workflow's run steps."""
    targets: set[str] = set()
    for job in yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"].values():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                words = line.split()
                while "make" in words:
                    words = words[words.index("make") + 1 :]
                    for word in words:
                        if not MAKE_TARGET.match(word):
                            break
                        targets.add(word)
    return targets


@pytest.mark.parametrize("bake_name", ["default", "no-service-redis-only"])
def test_every_make_target_a_workflow_runs_exists(
    baked: Callable[[str], Path], bake_name: str
) -> None:
    project = baked(bake_name)
    targets = set().union(*map(make_targets_in, (project / ".github" / "workflows").glob("*.yml")))
    assert {"lint", "quality-gates", "test-shard", "template-check"} <= targets
    missing = [
        target
        for target in sorted(targets)
        if subprocess.run(
            ["make", "-n", target], cwd=project, env=clean_env(), capture_output=True, check=False
        ).returncode
        != 0
    ]
    assert missing == []


def test_the_templates_canary_is_scheduled_and_its_targets_exist() -> None:
    workflows = TEMPLATE_ROOT / ".github" / "workflows"
    canary = yaml.safe_load((workflows / "canary.yml").read_text(encoding="utf-8"))
    assert canary[True]["schedule"], "the canary has no schedule"  # YAML 1.1 reads `on` as True
    targets = set().union(*map(make_targets_in, workflows.glob("*.yml")))
    assert {"test", "canary", "move-resolution-date"} <= targets
    missing = [
        target
        for target in sorted(targets)
        if subprocess.run(
            ["make", "-n", target, "DATE=2026-12-06T00:00:00Z"],
            cwd=TEMPLATE_ROOT,
            env=clean_env(),
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ]
    assert missing == []


def test_the_template_has_dependabot_for_its_tools_and_actions() -> None:
    config = TEMPLATE_ROOT / ".github" / "dependabot.yml"
    result = check_jsonschema("vendor.dependabot", [config])
    assert result.returncode == 0, result.stdout + result.stderr
    ecosystems = {
        update["package-ecosystem"]
        for update in yaml.safe_load(config.read_text(encoding="utf-8"))["updates"]
    }
    assert ecosystems == {"uv", "github-actions"}


def step_script(workflow: Path, job: str, name: str) -> str:
    steps = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"][job]["steps"]
    return next(str(step["run"]) for step in steps if step.get("name") == name)


def git_repository(directory: Path) -> Callable[..., str]:
    """A repository in ``directory``; returns a function running git there."""
    directory.mkdir()

    def git(*arguments: str, **env: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *arguments],
            cwd=directory,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    return git


def test_ci_gates_performance_with_the_merge_base_loaded_beside_the_change(
    baked: Callable[[str], Path], tmp_path: Path
) -> None:
    project = baked("default")
    script = step_script(
        project / ".github/workflows/ci.yml", "quality-gates", "Merge base for the performance gate"
    )
    git = git_repository(tmp_path / "repo")
    git("commit", "-q", "--allow-empty", "-m", "base")
    merge_base = git("rev-parse", "HEAD")
    git("update-ref", "refs/remotes/origin/main", merge_base)
    git("commit", "-q", "--allow-empty", "-m", "main moves on")
    git("update-ref", "refs/remotes/origin/main", git("rev-parse", "HEAD"))
    git("checkout", "-q", "-b", "feature", merge_base)
    git("commit", "-q", "--allow-empty", "-m", "the change")
    github_env = tmp_path / "github_env"
    github_env.touch()

    subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path / "repo",
        env=clean_env(BASE_REF="main", GITHUB_ENV=str(github_env)),
        check=True,
    )

    assert github_env.read_text() == f"PERF_BASE={merge_base}\n"
    # The gate make runs with that variable: perf-ab against it, not the recorded baseline.
    dry_run = subprocess.run(
        ["make", "-n", "performance-gate"],
        cwd=project,
        env=clean_env(PERF_BASE=merge_base),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "testkit perf gate " in dry_run
    assert f"--base '{merge_base}'" in dry_run


def test_nightly_gates_performance_against_the_previous_nightlys_commit(
    baked: Callable[[str], Path], tmp_path: Path
) -> None:
    project = baked("default")
    script = step_script(
        project / ".github/workflows/nightly.yml",
        "nightly",
        "Performance gate against the previous nightly's code",
    )
    git = git_repository(tmp_path / "repo")
    old = {"GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z", "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z"}
    git("commit", "-q", "--allow-empty", "-m", "yesterday", **old)
    yesterday = git("rev-parse", "HEAD")
    # make itself is replaced by a script that shows what the gate would be given.
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "make").write_text('#!/bin/sh\necho "make $* PERF_BASE=${PERF_BASE:-unset}"\n')
    (tools / "make").chmod(0o755)

    def nightly() -> str:
        return subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path / "repo",
            env=clean_env(PATH=f"{tools}:{clean_env()['PATH']}"),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert nightly() == "make performance-gate PERF_BASE=unset"  # nothing new: the baseline
    git("commit", "-q", "--allow-empty", "-m", "today")
    assert nightly() == f"make performance-gate PERF_BASE={yesterday}"


def test_ci_runs_the_tests_a_pull_request_adds_repeatedly_against_its_base(
    baked: Callable[[str], Path],
) -> None:
    workflow = baked("default") / ".github/workflows/ci.yml"
    steps = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]["quality-gates"]["steps"]
    [step] = [step for step in steps if step.get("name") == "New and changed tests, run repeatedly"]

    assert step["if"] == "github.event_name == 'pull_request'"
    assert step["run"] == 'make flakiness-new BASE="origin/$BASE_REF"'
    assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
