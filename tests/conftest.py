"""Session fixtures: one clean template export per worker, bakes cached by option set."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from _bake import SUPPORTED, bake, commit_all, export_template, write_cookiecutter_config


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as git would commit it."""
    return export_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cookiecutter_config(tmp_path_factory.mktemp("cookiecutter-config"))


@pytest.fixture(scope="session")
def template_repo(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding one commit of the template (what cruft bakes from)."""
    repo = tmp_path_factory.mktemp("template-repo") / "proving-ground"
    shutil.copytree(template, repo)
    commit_all(repo, "t")
    return repo


@pytest.fixture(scope="session")
def baked(
    template: Path, cookiecutter_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """Bake a supported option set (by its name in SUPPORTED) once per session."""
    projects: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in projects:
            output = tmp_path_factory.mktemp(f"bake-{name}")
            projects[name] = bake(template, output, cookiecutter_config, SUPPORTED[name])
        return projects[name]

    return get
