"""The demo path: `cruft create` bakes the same project as cookiecutter, plus .cruft.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from _bake import bake, clean_env, cruft_create_command, project_files


def test_cruft_create_bakes_the_same_files_as_cookiecutter(
    template_repo: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    cruft_output = tmp_path / "cruft"
    subprocess.run(
        cruft_create_command(template_repo, cookiecutter_config, cruft_output),
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (from_cruft,) = cruft_output.iterdir()
    from_cookiecutter = bake(template_repo, tmp_path / "cookiecutter", cookiecutter_config, {})

    files = project_files(from_cookiecutter)
    assert [f for f in project_files(from_cruft) if f != ".cruft.json"] == files
    differing = [
        f for f in files if (from_cruft / f).read_bytes() != (from_cookiecutter / f).read_bytes()
    ]
    assert differing == []

    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=template_repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    cruft_state = json.loads((from_cruft / ".cruft.json").read_text(encoding="utf-8"))
    assert cruft_state["commit"] == head
    assert cruft_state["context"]["cookiecutter"]["project_slug"] == from_cruft.name
