"""Which files that are not Python source each test reads, for the impact map.

coverage.py sees the code a test runs, not the data it reads: a change to tests/rag/corpus.json,
a cassette or a golden file would otherwise be "a file the map does not know" and run
everything. An audit hook (PEP 578, `sys.addaudithook`) sees every `open()` and `os.open()` of
this process; while the impact map is recorded, each read of a file under the rootdir is
credited to the context of the moment (``t:<nodeid>``, ``f:<fixture>``: testkit.impact.map).

Written here: coverage.py, pytest-testmon and pytest-cov track Python code only, and no library
records file reads per test. The hook is installed only by `make impact-map`; an ordinary run
pays nothing. Reads made by subprocesses (a uvicorn server a fixture starts) are not seen: a
file only a server reads belongs in ``impact_always_run``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# Never data: source and build products, and the tool directories a run writes to.
CODE_SUFFIXES = frozenset({".py", ".pyc", ".pyi", ".pyd", ".so", ".pth"})
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".venv",
        ".testkit",
        ".pytest_cache",
        ".hypothesis",
        ".mypy_cache",
        ".ruff_cache",
        "__pycache__",
        "node_modules",
        "reports",
        "build",
        "dist",
    }
)


def is_read(mode: object, flags: object) -> bool:
    """Whether an "open" audit event reads the file: builtin open() passes its mode, os.open()
    passes None and its flags (write-only or truncating opens read nothing)."""
    if isinstance(mode, str):
        return "r" in mode
    if not isinstance(flags, int):
        return False
    return (flags & os.O_ACCMODE) != os.O_WRONLY and not flags & os.O_TRUNC


def data_path(raw: object, root: str) -> str | None:
    """The path relative to ``root`` ('/'-separated) of a file a test opened, when it is a data
    file under the root; None otherwise (a descriptor, code, tool directories, elsewhere)."""
    if isinstance(raw, int):
        return None
    try:
        path = os.fsdecode(raw)  # type: ignore[arg-type]  # str, bytes or PathLike
    except TypeError:
        return None
    path = os.path.normpath(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))
    if not path.startswith(root):
        return None
    relative = path[len(root) :]
    if os.path.splitext(relative)[1] in CODE_SUFFIXES:
        return None
    parts = relative.split(os.sep)
    if SKIPPED_DIRS.intersection(parts[:-1]):
        return None
    return "/".join(parts)


class FileReads:
    """Records data-file reads by context while active. The hook cannot be removed once added
    (PEP 578), so `stop` only makes it return at once."""

    def __init__(self, root: Path) -> None:
        self._root = str(root.resolve()) + os.sep
        self._active = False
        self._hooked = False
        self.context = ""
        self._reads: dict[str, set[str]] = {}

    def start(self, context: str) -> None:
        self.context = context
        self._active = True
        if not self._hooked:
            sys.addaudithook(self._hook)
            self._hooked = True

    def stop(self) -> None:
        self._active = False

    def _hook(self, event: str, args: tuple[object, ...]) -> None:
        if event != "open" or not self._active:
            return
        raw, mode, flags = args
        if not is_read(mode, flags):
            return
        relative = data_path(raw, self._root)
        if relative is not None:
            self._reads.setdefault(self.context, set()).add(relative)

    def by_context(self) -> dict[str, list[str]]:
        """context -> the files read in it (JSON-ready)."""
        return {context: sorted(paths) for context, paths in self._reads.items()}


def merge_reads(recorded: Mapping[str, list[str]], into: dict[str, set[str]]) -> None:
    """Add one process's reads (context -> files) to ``into`` (file -> contexts)."""
    for context, paths in recorded.items():
        for path in paths:
            into.setdefault(path, set()).add(context)
