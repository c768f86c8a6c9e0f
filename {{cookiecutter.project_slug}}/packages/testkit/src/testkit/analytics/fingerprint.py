"""The code fingerprint of a run: one hash of the source files the run saw.

Two runs with the same fingerprint ran the same code, so a test that passed in one and failed in
the other is flaky. In a git checkout the hashes come from git itself (`git ls-files -s` gives
the blob hash of every tracked file, kept fresh by git's own stat cache), and only the files git
reports as modified or untracked are read and hashed here. Outside git, the source files under
the rootdir are hashed, with a cache keyed by (mtime, size) in .testkit/ so unchanged files are
not read again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from testkit.git import GitError, git

# What counts as source: code, configuration, lock files and test data (docs do not).
SOURCE_SUFFIXES = frozenset(
    {".py", ".pyi", ".toml", ".lock", ".cfg", ".ini", ".json", ".sql", ".yaml", ".yml"}
)
# Never walked outside git: environments, caches and outputs.
SKIPPED_DIRS = frozenset(
    {"node_modules", "reports", "site", "build", "dist", "__pycache__", "venv", "locust-reports"}
)
CACHE_PATH = Path(".testkit") / "fingerprint-cache.json"
LENGTH = 16  # hex characters kept: plenty to tell a project's code versions apart


def is_source(path: str) -> bool:
    return os.path.splitext(path)[1] in SOURCE_SUFFIXES


def combine(hashes: Iterable[tuple[str, str]]) -> str:
    """One short hash over (path, content hash) pairs, independent of their order."""
    digest = hashlib.sha256()
    for path, content in sorted(hashes):
        digest.update(f"{path}\0{content}\n".encode())
    return digest.hexdigest()[:LENGTH]


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()
    except OSError:
        return "missing"


def _git_names(rootdir: Path, *arguments: str) -> list[str] | None:
    """The NUL-separated names a ``git ls-files -z`` prints; None when git cannot answer."""
    try:
        output = git(rootdir, *arguments, strip=False)
    except GitError:
        return None
    return [entry for entry in output.split("\0") if entry]


def git_toplevel(rootdir: Path) -> Path | None:
    """The checkout holding rootdir: the nearest directory with a .git (a directory, or a file
    in a worktree or submodule). A few stat calls, cheaper than starting git to ask."""
    return next(
        (directory for directory in (rootdir, *rootdir.parents) if (directory / ".git").exists()),
        None,
    )


@dataclass(frozen=True, slots=True)
class SourceHashes:
    """The content hash of every source file, by path relative to `base` (the git checkout's
    top, or the rootdir outside git); `rootdir_prefix` is the rootdir's path below `base`."""

    hashes: Mapping[str, str]
    rootdir_prefix: str = ""

    @property
    def fingerprint(self) -> str:
        return combine(self.hashes.items())

    def of(self, rootdir_path: str) -> str:
        """The hash of a file given relative to the rootdir ("missing" when it is not there)."""
        return self.hashes.get(self.rootdir_prefix + rootdir_path, "missing")


def git_source_hashes(rootdir: Path) -> SourceHashes | None:
    """Hashes from git's index plus the working-tree changes; None outside git."""
    toplevel = git_toplevel(rootdir.resolve())
    if toplevel is None:
        return None
    staged = _git_names(rootdir, "ls-files", "-s", "-z", "--full-name", "--", ".")
    if staged is None:
        return None
    hashes: dict[str, str] = {}
    for entry in staged:
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) >= 2 and is_source(path):
            hashes[path] = parts[1]
    changed = _git_names(
        rootdir, "ls-files", "-m", "-o", "--exclude-standard", "-z", "--full-name", "--", "."
    )
    if changed:
        for path in changed:
            if is_source(path):
                hashes[path] = _file_hash(toplevel / path)
    prefix = rootdir.resolve().relative_to(toplevel).as_posix()
    return SourceHashes(hashes, "" if prefix == "." else prefix + "/")


def _walk_sources(rootdir: Path) -> Iterable[Path]:
    for directory, subdirectories, files in os.walk(rootdir):
        subdirectories[:] = [
            name for name in subdirectories if not name.startswith(".") and name not in SKIPPED_DIRS
        ]
        for name in files:
            if is_source(name):
                yield Path(directory, name)


def tree_source_hashes(rootdir: Path, cache_path: Path | None = None) -> SourceHashes:
    """Hashes of the source files under rootdir, reusing the hashes of unchanged files."""
    cache_file = cache_path or rootdir / CACHE_PATH
    try:
        cache: dict[str, list[object]] = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    fresh: dict[str, list[object]] = {}
    hashes: dict[str, str] = {}
    for path in _walk_sources(rootdir):
        relative = path.relative_to(rootdir).as_posix()
        try:
            status = path.stat()
        except OSError:
            continue
        cached = cache.get(relative)
        key: list[object] = [status.st_mtime_ns, status.st_size]
        if isinstance(cached, list) and cached[:2] == key and isinstance(cached[2], str):
            content = cached[2]
        else:
            content = _file_hash(path)
        fresh[relative] = [*key, content]
        hashes[relative] = content
    if fresh != cache:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(fresh))
        except OSError:
            pass  # a read-only tree still gets its fingerprint, just without the cache
    return SourceHashes(hashes)


def source_hashes(rootdir: Path) -> SourceHashes:
    """git's view of the sources when rootdir is in a git checkout, else a walk of the tree."""
    return git_source_hashes(rootdir) or tree_source_hashes(rootdir)


def code_fingerprint(rootdir: Path) -> str:
    """One hash of every source file the run sees (see the module docstring)."""
    return source_hashes(rootdir).fingerprint
