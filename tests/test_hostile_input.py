"""Hostile text options render as data: valid TOML/YAML/JSON/Python, verbatim, never run."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from _bake import bake, clean_env, parse_config_and_python_files

# Each goes into project_name, description and author_name at once.
HOSTILE = {
    "quotes": """Jane "JD" O'Brien's "quoted" 'text'""",
    "triple-quotes": '''Ends with """ and \'\'\' inside''',
    "backslashes": "C:\\new\\table \\u0041 \\N{DASH} trailing\\",
    "unicode": "Zoë Ålesund — 日本語 🚀 👩\u200d👩\u200d👧 ﬁ",
    "jinja-expression": "{{ 7*7 }}",
    "jinja-escaped": "{{ '{{' }} and {% raw %} and {# not a comment",
    "jinja-code-execution": "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "python-injection": "\"; import os; os.system('touch PWNED') #",
    "python-injection-single": "'); __import__('os').system('touch PWNED') #",
    "shell-injection": "$(touch PWNED) `touch PWNED` ; touch PWNED",
    "make-injection": "$(shell touch PWNED) \\",
    "html": "</script><script>alert(1)</script>",
    "yaml-syntax": "key: value # not a comment &anchor *alias !!python/object:os.system [x]",
    "toml-syntax": '""" = [table] # x \\" \\\\',
}


def bake_hostile(
    text: str, template: Path, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a relative `touch PWNED` would land here
    return bake(
        template,
        tmp_path / "out",
        config,
        {
            "project_name": text,
            "description": text,
            "author_name": text,
            "project_slug": "hostile-input",
            "package_name": "hostile_input",
        },
    )


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_renders_verbatim_into_valid_files_and_never_runs(
    text: str,
    template: Path,
    cookiecutter_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = bake_hostile(text, template, cookiecutter_config, tmp_path, monkeypatch)

    parse_config_and_python_files(project)

    # packages/testkit is copied unrendered; the root and each service carry the options.
    for pyproject in [project / "pyproject.toml", *project.glob("services/*/pyproject.toml")]:
        metadata = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        assert metadata["description"] == text, pyproject
        assert metadata["authors"][0]["name"] == text, pyproject

    # The Makefile names the project in a comment; make must still read it as one.
    help_output = subprocess.run(
        ["make", "help"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "test" in help_output

    planted = [path for root in (tmp_path, template) for path in root.rglob("PWNED")]
    assert planted == [], "text from an option was executed"


def test_jinja_in_a_text_option_is_not_evaluated(
    template: Path, cookiecutter_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = bake_hostile("{{ 7*7 }}", template, cookiecutter_config, tmp_path, monkeypatch)
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "49" not in pyproject
