"""The run's one header line: mode, seed, each service's source and the template release the
project was baked from (or last updated to). Facts only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from testkit.infra.resolve import Resolution

# Written by the template when it bakes or updates the project: its release (CHANGELOG.md).
TEMPLATE_VERSION_FILE = ".template-version"


def template_version(rootdir: Path) -> str | None:
    """The template release recorded in the project, or None when there is no record."""
    try:
        recorded = (rootdir / TEMPLATE_VERSION_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return recorded.split()[0] if recorded else None


def format_header(
    mode: str, seed: int, resolutions: Sequence[Resolution], template: str | None = None
) -> str:
    """e.g. testkit: mode=MOCK seed=123 postgres=url(postgresql://127.0.0.1:5432/test) redis=..."""
    parts = [f"testkit: mode={mode}", f"seed={seed}"]
    # Sources put only masked URLs in their details, so the line is safe to print and share.
    parts.extend(f"{resolution.service}={resolution.describe()}" for resolution in resolutions)
    if template is not None:
        parts.append(f"template={template}")
    return " ".join(parts)
