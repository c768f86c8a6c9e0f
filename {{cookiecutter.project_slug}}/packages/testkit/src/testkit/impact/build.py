"""Building the impact map from coverage.py's per-line contexts (testkit.impact.recorder records
them): each executed line is credited to the tests of its context, and each line to the function
(or the module level) of the file that holds it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from testkit.impact.map import (
    FIXTURE_CONTEXT,
    MODULE_CONTEXT,
    TEST_CONTEXT,
    DataFileEntry,
    FileEntry,
    FunctionEntry,
    ImpactMap,
)
from testkit.impact.source_outline import SourceOutline, file_digest, outline_source


def source_files(root: Path, patterns: Sequence[str]) -> dict[Path, str]:
    """Every .py file under the source roots (glob patterns relative to ``root``), with the
    module name it is imported as (the root directory being on sys.path)."""
    modules: dict[Path, str] = {}
    for pattern in patterns:
        for base in sorted(root.glob(pattern)):
            if not base.is_dir():
                continue
            for file in sorted(base.rglob("*.py")):
                if any(part.startswith(".") or part == "__pycache__" for part in file.parts):
                    continue
                parts = list(file.relative_to(base).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                modules.setdefault(file.resolve(), ".".join(parts) or file.stem)
    return modules


def expand_fixtures(
    test_fixtures: Mapping[str, Iterable[str]],
    edges: Mapping[str, Iterable[str]],
    factories: Iterable[str] = (),
) -> dict[str, list[str]]:
    """Each test's fixtures plus, transitively, what those fixtures used when they were set
    up (``edges``): a test served a cached session fixture depends on its dependencies too.

    A factory fixture (its value is a function, e.g. ``live_server_factory``) may cache what it
    makes and hand it to any of its users: a server one fixture had it start (``live_server``)
    is what a test calling the factory gets. So a user of a factory also depends on every
    fixture that used that factory."""
    makers: dict[str, set[str]] = {factory: set() for factory in factories}
    for name, used in edges.items():
        for factory in makers.keys() & set(used):
            makers[factory].add(name)
    expanded: dict[str, list[str]] = {}
    for nodeid, fixtures in test_fixtures.items():
        found = set(fixtures)
        pending = list(found)
        while pending:
            current = pending.pop()
            for used in [*edges.get(current, ()), *makers.get(current, ())]:
                if used not in found:
                    found.add(used)
                    pending.append(used)
        expanded[nodeid] = sorted(found)
    return expanded


def _tests_of_context(context: str, users: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The tests a context's work belongs to; ``users``: the tests of each fixture context
    (``f:<name>``) and of each test file context (``m:<path>``)."""
    if context.startswith(TEST_CONTEXT):
        return frozenset({context[len(TEST_CONTEXT) :]})
    return users.get(context, frozenset())


def context_users(
    test_fixtures: Mapping[str, Iterable[str]], tests: Iterable[str]
) -> dict[str, frozenset[str]]:
    """Fixture and test-file contexts -> the tests they serve."""
    users: dict[str, set[str]] = {}
    for nodeid, fixtures in test_fixtures.items():
        for fixture in fixtures:
            users.setdefault(FIXTURE_CONTEXT + fixture, set()).add(nodeid)
    for nodeid in tests:
        users.setdefault(MODULE_CONTEXT + nodeid.partition("::")[0], set()).add(nodeid)
    return {context: frozenset(found) for context, found in users.items()}


def build_map(
    *,
    root: Path,
    modules: Mapping[Path, str],
    executed: Mapping[Path, Mapping[int, Sequence[str]]],
    test_fixtures: Mapping[str, Sequence[str]],
    passed: Iterable[str],
    unreliable: Iterable[str],
    reads: Mapping[str, Iterable[str]] | None = None,
    notes: Sequence[str] = (),
    created_at: float | None = None,
) -> ImpactMap:
    """The map from per-line contexts (``executed``: absolute file -> line -> contexts).

    ``test_fixtures``: every fixture each test used (fixture contexts spread to all of them);
    ``passed``: tests recorded reliably; ``unreliable``: failed or skipped ones, which later
    runs always select; ``reads``: data file (relative) -> the contexts that read it.
    """
    passed = list(passed)
    unreliable_set = frozenset(unreliable)
    users = context_users(test_fixtures, [*test_fixtures, *passed, *unreliable_set])
    path_of_module: dict[str, str] = {}
    for path, module in modules.items():
        # Two roots may hold the same module name (tests/unit, packages/x/tests/unit): the
        # first on sys.path wins for imports, the file itself is still mapped.
        path_of_module.setdefault(module, path.relative_to(root).as_posix())

    files: dict[str, FileEntry] = {}
    for absolute, module in modules.items():
        relative = absolute.relative_to(root).as_posix()
        try:
            text = absolute.read_text()
            outline: SourceOutline = outline_source(
                text, module=module, is_package=absolute.name == "__init__.py"
            )
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue  # not importable either, so no test can depend on it as it stands
        function_tests: dict[str, set[str]] = {scope.name: set() for scope in outline.scopes}
        module_tests: set[str] = set()
        for line, contexts in executed.get(absolute, {}).items():
            tests: set[str] = set()
            for context in contexts:
                tests |= _tests_of_context(context, users)
            if not tests:
                continue
            scope = outline.scope_at(line)
            (function_tests[scope.name] if scope else module_tests).update(tests)
        files[relative] = FileEntry(
            path=relative,
            sha256=file_digest(text),
            module_digest=outline.module_digest,
            module_tests=frozenset(module_tests),
            functions=tuple(
                FunctionEntry(s.name, s.start, s.end, s.digest, frozenset(function_tests[s.name]))
                for s in outline.scopes
            ),
            imports=tuple(
                sorted(
                    {path_of_module[m] for m in outline.imports if m in path_of_module} - {relative}
                )
            ),
        )
    return ImpactMap(
        created_at=time.time() if created_at is None else created_at,
        files=files,
        tests=frozenset(passed) - unreliable_set,
        unreliable=unreliable_set,
        notes=tuple(notes),
        data_files=data_entries(root, reads or {}, users, exclude=set(files)),
    )


def bytes_digest(path: Path) -> str | None:
    """The content hash a map records per data file; None when it is not a readable file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:  # gone, a directory, unreadable
        return None


def data_entries(
    root: Path,
    reads: Mapping[str, Iterable[str]],
    users: Mapping[str, frozenset[str]],
    *,
    exclude: set[str],
) -> dict[str, DataFileEntry]:
    """One entry per data file some test read and that still exists (a file a test wrote and
    removed is nobody's input)."""
    entries: dict[str, DataFileEntry] = {}
    for path, contexts in sorted(reads.items()):
        if path in exclude:
            continue
        tests: set[str] = set()
        for context in contexts:
            tests |= _tests_of_context(context, users)
        digest = bytes_digest(root / path) if tests else None
        if digest is not None:
            entries[path] = DataFileEntry(path, digest, frozenset(tests))
    return entries
