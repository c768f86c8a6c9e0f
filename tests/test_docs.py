"""The template's documentation site builds with --strict (broken links and nav fail)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from _bake import TEMPLATE_ROOT, TOOLS_BIN


def test_mkdocs_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(TOOLS_BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "infrastructure" / "index.html").is_file()
