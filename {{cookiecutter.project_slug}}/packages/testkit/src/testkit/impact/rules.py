"""Which changed files run everything, which run nothing, and which are test files: the rules
impact selection applies before it looks at the map ([tool.testkit] impact_always_run and
impact_ignore in pyproject.toml, testkit.project_settings holding the defaults)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from testkit.project_settings import DEFAULT_ALWAYS_RUN, DEFAULT_IGNORE, read_project_settings

DEFAULT_TEST_PATTERNS = ("test_*.py", "*_test.py")


def matches(path: str, pattern: str) -> bool:
    """gitignore-like: a pattern without '/' matches the file name at any depth; '**/' may
    match no directory at all."""
    if "/" not in pattern:
        return fnmatch.fnmatchcase(PurePosixPath(path).name, pattern)
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:])


@dataclass(frozen=True, slots=True)
class ImpactRules:
    always_run: tuple[str, ...] = DEFAULT_ALWAYS_RUN
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    test_patterns: tuple[str, ...] = DEFAULT_TEST_PATTERNS

    def always_run_pattern(self, path: str) -> str | None:
        return next((p for p in self.always_run if matches(path, p)), None)

    def is_ignored(self, path: str) -> bool:
        return any(matches(path, p) for p in self.ignore)

    def is_test_file(self, path: str) -> bool:
        name = PurePosixPath(path).name
        patterns = self.test_patterns
        return path.endswith(".py") and any(fnmatch.fnmatchcase(name, p) for p in patterns)


def load_rules(root: Path, test_patterns: Sequence[str] = DEFAULT_TEST_PATTERNS) -> ImpactRules:
    """[tool.testkit] impact_always_run / impact_ignore in pyproject.toml, else the defaults."""
    settings = read_project_settings(root / "pyproject.toml")
    return ImpactRules(
        always_run=settings.globs("impact_always_run"),
        ignore=settings.globs("impact_ignore"),
        test_patterns=tuple(test_patterns) or DEFAULT_TEST_PATTERNS,
    )
