"""Another revision of this project checked out beside the working tree (a git worktree), so
perf-ab and the instruction-count gate can run the base revision's code on the same machine."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testkit.git import GitError, commit_of, git
from testkit.usage import UsageError


class RevisionError(UsageError):
    """The requested revision cannot be checked out; the message names it."""


@dataclass(frozen=True, slots=True)
class Checkout:
    """The project directory of the other revision (the same place in the tree as the current
    directory is in the working tree), and its commit id."""

    root: Path
    commit: str


@contextlib.contextmanager
def base_worktree(ref: str, here: Path | None = None) -> Iterator[Checkout]:
    """``ref`` checked out (detached) in a temporary git worktree, removed afterwards."""
    here = (here or Path.cwd()).resolve()
    if not ref.strip():
        raise RevisionError("no base revision given: BASE=<git ref>, e.g. BASE=main")
    try:
        toplevel = Path(git(here, "rev-parse", "--show-toplevel")).resolve()
    except GitError as error:
        raise RevisionError(f"BASE={ref} needs a git repository here: {error}") from error
    commit = commit_of(here, ref)
    if commit is None:
        raise RevisionError(
            f"BASE={ref!r} is not a commit of this repository (try a branch, tag or commit id)"
        )
    parent = Path(tempfile.mkdtemp(prefix="testkit-base-"))
    worktree = parent / "base"
    try:
        git(toplevel, "worktree", "add", "--detach", "--quiet", str(worktree), commit)
    except GitError as error:
        shutil.rmtree(parent, ignore_errors=True)
        raise RevisionError(f"cannot check out BASE={ref}: {error}") from error
    try:
        yield Checkout(worktree / here.relative_to(toplevel), commit)
    finally:
        with contextlib.suppress(GitError):
            git(toplevel, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(GitError):
            git(toplevel, "worktree", "prune")
