"""copier beside cookiecutter and cruft: the same questions, the same tree, the same hooks.

copier.yml is written from cookiecutter.json by scripts/copier_config.py and must be up to date;
`copier copy` must bake byte for byte what cookiecutter bakes, plus copier's answers file; the
pre-generation hook must refuse a bad option under copier with its own lines and leave nothing;
option values must stay literal; `copier update` must merge a template release into an edited
project. Render only (no install, no generated suite): these run in `make test-fast`.
"""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import yaml
from _bake import (
    GIT,
    MINIMAL,
    SUPPORTED,
    TEMPLATE_ROOT,
    TOOLS_BIN,
    bake,
    ok,
    project_files,
    run,
    template_module,
)
from _template_release import (
    PROJECT_DIR,
    assert_merged,
    commit_all,
    edit_as_a_team,
    release_template_v2,
    template_v1,
)
from cookiecutter.exceptions import FailedHookException
from jinja2 import DictLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

ANSWERS_FILE = ".copier-answers.yml"
# A value the hook refuses and a combination it refuses (the service needs Redis).
INVALID = {"coverage_threshold": "200", "use_redis": "no"}


@pytest.fixture
def copier_settings(tmp_path: Path) -> Path:
    """An empty copier settings file: the user's own defaults and trust stay out of the test."""
    settings = tmp_path / "copier-settings.yml"
    settings.write_text("{}\n", encoding="utf-8")
    return settings


def copier(cwd: Path, *arguments: str, settings: Path) -> subprocess.CompletedProcess[str]:
    return run(cwd, str(TOOLS_BIN / "copier"), *arguments, COPIER_SETTINGS_PATH=str(settings))


def copier_copy(
    template_repo: Path, destination: Path, options: Mapping[str, str], settings: Path
) -> subprocess.CompletedProcess[str]:
    """`copier copy` of the template repository's HEAD with default answers but `options`."""
    data = [argument for item in options.items() for argument in ("--data", "=".join(item))]
    return copier(
        destination.parent,
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        "HEAD",
        *data,
        str(template_repo),
        str(destination),
        settings=settings,
    )


def answers(project: Path) -> dict[str, str]:
    loaded: dict[str, str] = yaml.safe_load((project / ANSWERS_FILE).read_text(encoding="utf-8"))
    return loaded


def short_head(repo: Path) -> str:
    """The commit as copier records it (`git describe --tags --always`; the repo has no tags)."""
    return ok(run(repo, "git", "rev-parse", "--short", "HEAD")).strip()


def test_copier_yml_is_what_scripts_copier_config_writes() -> None:
    copier_config = template_module("scripts/copier_config.py")
    committed = (TEMPLATE_ROOT / "copier.yml").read_text(encoding="utf-8")
    assert copier_config.render() == committed, "copier.yml is stale: run `make copier-config`"


def test_the_answers_file_is_in_the_template_under_the_name_cookiecutter_skips() -> None:
    local_extensions = template_module("local_extensions.py")
    assert (TEMPLATE_ROOT / PROJECT_DIR / local_extensions.COPIER_ANSWERS_FILE).is_file()


@pytest.mark.parametrize("name", ["default", "minimal"])
def test_copier_copy_bakes_the_same_files_as_cookiecutter(
    name: str,
    template_repo: Path,
    baked: Callable[[str], Path],
    copier_settings: Path,
    tmp_path: Path,
) -> None:
    from_copier = tmp_path / "project"
    ok(copier_copy(template_repo, from_copier, SUPPORTED[name], copier_settings))
    from_cookiecutter = baked(name)

    files = project_files(from_cookiecutter)
    assert [f for f in project_files(from_copier) if f != ANSWERS_FILE] == files
    differing = [
        f
        for f in files
        if (from_copier / f).read_bytes() != (from_cookiecutter / f).read_bytes()
        or (from_copier / f).stat().st_mode != (from_cookiecutter / f).stat().st_mode
    ]
    assert differing == []

    recorded = answers(from_copier)
    assert recorded["_commit"] == short_head(template_repo)
    assert recorded["project_slug"] == from_cookiecutter.name
    assert {option: recorded[option] for option in SUPPORTED[name]} == SUPPORTED[name]


def test_an_invalid_option_fails_under_copier_with_the_hook_lines_and_leaves_nothing(
    template: Path,
    template_repo: Path,
    cookiecutter_config: Path,
    copier_settings: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    capfd.readouterr()
    with pytest.raises(FailedHookException):
        bake(template, tmp_path / "cookiecutter", cookiecutter_config, INVALID)
    hook_lines = capfd.readouterr().err.splitlines()
    assert [line.split("=")[0] for line in hook_lines] == [
        "ERROR: coverage_threshold",
        "ERROR: use_redis",
    ]

    destination = tmp_path / "project"
    result = copier_copy(template_repo, destination, INVALID, copier_settings)
    assert result.returncode != 0
    assert [line for line in result.stdout.splitlines() if line.startswith("ERROR: ")] == hook_lines
    assert not destination.exists()


def test_option_values_stay_literal_under_copier(template_repo: Path, tmp_path: Path) -> None:
    # copier renders the defaults of a user's settings file as Jinja; --data it takes as is.
    settings = tmp_path / "copier-settings.yml"
    settings.write_text('defaults:\n  author_name: "{{ 7*7 }}"\n', encoding="utf-8")
    project = tmp_path / "project"
    ok(copier_copy(template_repo, project, {"description": "{{ 6*7 }}"}, settings))

    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert metadata["description"] == "{{ 6*7 }}"
    assert metadata["authors"][0]["name"] == "{{ 7*7 }}"
    assert answers(project)["author_name"] == "{{ 7*7 }}"


def test_copy_without_render_files_come_out_byte_for_byte() -> None:
    # copier renders every file; copier_extensions.CopyWithoutRender stands in for cookiecutter's
    # `_copy_without_render`, so Jinja-looking Python (f-string braces, `{#`) survives.
    copier_extensions = template_module("copier_extensions.py")
    kept = f"{PROJECT_DIR}/packages/testkit/src/testkit/example.py"
    rendered = f"{PROJECT_DIR}/README.md"
    source = 'print(f"{{value}}")  # {% raw %} and {# are not Jinja here\n'
    environment = SandboxedEnvironment(
        loader=DictLoader({kept: source, rendered: "{{ 6*7 }}"}),
        extensions=[copier_extensions.CopyWithoutRender],
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    assert environment.get_template(kept).render() == source
    assert environment.get_template(rendered).render() == "42"


def test_copier_update_merges_a_template_release_into_an_edited_project(
    template: Path, copier_settings: Path, tmp_path: Path
) -> None:
    repo = template_v1(template, tmp_path / "proving-ground")
    project = tmp_path / "project"
    ok(copier_copy(repo, project, MINIMAL, copier_settings))
    ok(run(project, *GIT, "init", "--quiet"))
    commit_all(project, "baked")
    edit_as_a_team(project)

    release_template_v2(repo)
    ok(copier(project, "update", "--trust", "--defaults", settings=copier_settings))

    assert_merged(project)
    assert not (project / "services").exists()  # what the options switched off stays removed
    recorded = answers(project)
    assert recorded["_commit"] == short_head(repo)
    assert {option: recorded[option] for option in MINIMAL} == MINIMAL
