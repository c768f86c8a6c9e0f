"""What changed, for impact selection: files named in CHANGED_FILES, or git's diff against a base
(committed since it, uncommitted, untracked) with the changed lines of each file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from testkit.git import GitError, git


@dataclass(frozen=True, slots=True)
class Change:
    """Changed files (relative to the rootdir) and, when git told us, their changed lines."""

    files: tuple[str, ...]
    source: str
    lines: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


def relative_path(raw: str, root: Path) -> str:
    """A changed path as the map names it: relative to the rootdir, '/'-separated."""
    path = Path(raw.strip())
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root.resolve())
        except ValueError:
            return path.as_posix()
    return PurePosixPath(path.as_posix()).as_posix().removeprefix("./")


def change_from_files(raw: str, root: Path) -> Change:
    """CHANGED_FILES: comma- or space-separated paths."""
    files = tuple(
        dict.fromkeys(relative_path(p, root) for p in re.split(r"[,\s]+", raw) if p.strip())
    )
    return Change(files=files, source="CHANGED_FILES")


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def parse_unified_zero(diff: str) -> dict[str, tuple[int, ...]]:
    """New-side changed lines per file from ``git diff -U0`` (a pure deletion marks the lines
    around it)."""
    lines: dict[str, list[int]] = {}
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:]
            current = target[2:] if target.startswith("b/") else None
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start, count = int(match.group(1)), int(match.group(2) or "1")
            span = range(start, start + count) if count else range(max(start, 1), start + 2)
            lines.setdefault(current, []).extend(span)
    return {path: tuple(sorted(set(found))) for path, found in lines.items()}


class ChangeError(Exception):
    """git could not tell what changed; the message says which command and why."""


def _git(root: Path, *arguments: str) -> str:
    try:
        return git(root, *arguments, strip=False)
    except GitError as error:
        raise ChangeError(str(error)) from error


def change_from_git(base: str, root: Path) -> Change:
    """Changes of the working tree (committed since ``base``, uncommitted, untracked)."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    _git(root, "rev-parse", "--verify", "--quiet", base + "^" + "{commit}")
    names = _git(root, "diff", "--name-only", "--no-renames", base, "--").splitlines()
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--full-name")
    diff = parse_unified_zero(_git(root, "diff", "-U0", "--no-renames", "--no-color", base, "--"))

    def rebase(path: str) -> str:
        return relative_path(str(top / path), root)

    files = tuple(dict.fromkeys(rebase(p) for p in [*names, *untracked.splitlines()] if p))
    return Change(
        files=files,
        source=f"git diff {base}",
        lines={rebase(path): found for path, found in diff.items()},
    )


# --- configuration and the current tree -----------------------------------------------------
