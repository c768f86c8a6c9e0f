"""git, asked from one place: a command's output, or one GitError naming the command and why.

Every part of testkit that asks git something (the perf tier's worktrees and commits, impact
selection's diff, diff coverage's base, the history's code fingerprint) goes through
:func:`git`, so a missing executable or a failing command reads the same everywhere.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

TIMEOUT_S = 60.0


class GitError(RuntimeError):
    """git is missing or a git command failed; the message names the command and git's reason."""


def git(cwd: Path, *arguments: str, strip: bool = True) -> str:
    """The standard output of ``git <arguments>`` run in ``cwd``, stripped unless ``strip`` is
    False (NUL-separated output, where a name may end in a space). Bytes that are not UTF-8 (a
    file name in another encoding) are replaced, not fatal."""
    command = f"git {' '.join(arguments)}"
    try:
        done = subprocess.run(
            ["git", *arguments],
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
            timeout=TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"{command}: {error}") from error
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise GitError(f"{command} failed: {reason}")
    return done.stdout.strip() if strip else done.stdout


def commit_of(cwd: Path, ref: str) -> str | None:
    """The full commit id ``ref`` names, or None when it names no commit (or there is no git)."""
    try:
        return git(cwd, "rev-parse", "--verify", "--quiet", ref + "^{commit}")
    except GitError:
        return None


def head_state(cwd: Path) -> tuple[str | None, bool]:
    """(HEAD's commit, whether tracked files have uncommitted changes); (None, False) outside
    a repository or without git."""
    try:
        head = git(cwd, "rev-parse", "HEAD")
        status = git(cwd, "status", "--porcelain", "--untracked-files=no")
    except GitError:
        return None, False
    return head, bool(status)
