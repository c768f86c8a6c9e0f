"""The impact map: for each source file, for each function, the tests that executed it.

Built from coverage.py data recorded with one context per test (testkit.analytics.impact_record):

- ``t:<nodeid>``: lines run while that test set up, ran or tore down (in-process, or in a
  subprocess the test started);
- ``f:<fixture>``: lines run while a module/session-scoped fixture was set up, including a server
  process it started; they belong to every test that used the fixture, not just the first one;
- ``s``: imports and collection, which belong to no test.

Stored as compact JSON (.testkit/impact-map.json): tests by index, per file its content hash (a
file that changed since is detected: the map is stale there), its module-level digest, its
imports, and per function the line range, AST digest and test indexes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.analytics.source_outline import SourceOutline, file_digest, outline_source

MAP_VERSION = 1
TEST_CONTEXT = "t:"
FIXTURE_CONTEXT = "f:"
SESSION_CONTEXT = "s"


class ImpactMapError(Exception):
    """The map file is missing, unreadable or from another format; the message names the file."""


@dataclass(frozen=True, slots=True)
class FunctionEntry:
    name: str
    start: int
    end: int
    digest: str
    tests: frozenset[str]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One source file as the map saw it."""

    path: str
    sha256: str
    module_digest: str
    module_tests: frozenset[str]
    functions: tuple[FunctionEntry, ...]
    imports: tuple[str, ...]  # paths (in the map) of the modules this file imports

    def tests(self) -> frozenset[str]:
        """Every test that executed any line of the file."""
        found = set(self.module_tests)
        for function in self.functions:
            found |= function.tests
        return frozenset(found)

    def function(self, name: str) -> FunctionEntry | None:
        return next((f for f in self.functions if f.name == name), None)

    def function_at(self, line: int) -> FunctionEntry | None:
        holding = [f for f in self.functions if f.start <= line <= f.end]
        return min(holding, key=lambda f: f.end - f.start) if holding else None


@dataclass(frozen=True, slots=True)
class ImpactMap:
    """Which tests execute which code, and the file contents that was true for."""

    created_at: float
    files: Mapping[str, FileEntry]
    tests: frozenset[str]  # tests recorded reliably (passed); others count as not in the map
    unreliable: frozenset[str] = frozenset()  # failed or skipped while the map was built
    notes: tuple[str, ...] = field(default=())

    def importers(self, path: str) -> frozenset[str]:
        """Files importing ``path``, directly or through other files (a module-level change
        in ``path`` can reach all of them)."""
        reverse: dict[str, set[str]] = {}
        for entry in self.files.values():
            for imported in entry.imports:
                reverse.setdefault(imported, set()).add(entry.path)
        found: set[str] = set()
        pending = [path]
        while pending:
            for importer in reverse.get(pending.pop(), ()):
                if importer not in found:
                    found.add(importer)
                    pending.append(importer)
        found.discard(path)
        return frozenset(found)


# --- reading and writing -------------------------------------------------------------------


def dump_map(impact_map: ImpactMap) -> dict[str, Any]:
    tests = sorted(impact_map.tests | {t for e in impact_map.files.values() for t in e.tests()})
    index = {nodeid: i for i, nodeid in enumerate(tests)}

    def ids(nodeids: Iterable[str]) -> list[int]:
        return sorted(index[n] for n in nodeids)

    return {
        "application": "testkit-impact-map",
        "version": MAP_VERSION,
        "created_at": impact_map.created_at,
        "tests": tests,
        "reliable": ids(impact_map.tests),
        "unreliable": sorted(impact_map.unreliable),
        "notes": list(impact_map.notes),
        "files": {
            path: {
                "sha256": entry.sha256,
                "module": entry.module_digest,
                "module_tests": ids(entry.module_tests),
                "imports": list(entry.imports),
                "functions": [
                    [f.name, f.start, f.end, f.digest, ids(f.tests)] for f in entry.functions
                ],
            }
            for path, entry in sorted(impact_map.files.items())
        },
    }


def parse_map(data: Any, *, source: str) -> ImpactMap:
    """The map from its JSON form; ImpactMapError naming ``source`` when it is not one."""
    if not isinstance(data, dict) or data.get("application") != "testkit-impact-map":
        raise ImpactMapError(f"{source} is not a testkit impact map; rebuild it: make impact-map")
    if data.get("version") != MAP_VERSION:
        raise ImpactMapError(
            f"{source} has map version {data.get('version')!r}, this testkit reads "
            f"{MAP_VERSION}; rebuild it: make impact-map"
        )
    try:
        tests: list[str] = data["tests"]

        def names(ids: Iterable[int]) -> frozenset[str]:
            return frozenset(tests[i] for i in ids)

        files = {
            path: FileEntry(
                path=path,
                sha256=raw["sha256"],
                module_digest=raw["module"],
                module_tests=names(raw["module_tests"]),
                functions=tuple(
                    FunctionEntry(name, start, end, digest, names(ids))
                    for name, start, end, digest, ids in raw["functions"]
                ),
                imports=tuple(raw["imports"]),
            )
            for path, raw in data["files"].items()
        }
        return ImpactMap(
            created_at=float(data["created_at"]),
            files=files,
            tests=names(data["reliable"]),
            unreliable=frozenset(data["unreliable"]),
            notes=tuple(data.get("notes", ())),
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ImpactMapError(
            f"{source} is malformed ({type(error).__name__}: {error}); rebuild it: make impact-map"
        ) from error


def write_map(impact_map: ImpactMap, path: Path) -> None:
    """Write atomically: a reader never sees half a map."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(dump_map(impact_map), separators=(",", ":")))
    partial.replace(path)


def read_map(path: Path) -> ImpactMap:
    if not path.is_file():
        raise ImpactMapError(f"no impact map at {path}; build one: make impact-map")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImpactMapError(
            f"{path} is not readable JSON ({error}); rebuild it: make impact-map"
        ) from error
    return parse_map(data, source=str(path))


# --- building ------------------------------------------------------------------------------


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
    test_fixtures: Mapping[str, Iterable[str]], edges: Mapping[str, Iterable[str]]
) -> dict[str, list[str]]:
    """Each test's fixtures plus, transitively, what those fixtures used when they were set
    up (``edges``): a test served a cached session fixture depends on its dependencies too."""
    expanded: dict[str, list[str]] = {}
    for nodeid, fixtures in test_fixtures.items():
        found = set(fixtures)
        pending = list(found)
        while pending:
            for used in edges.get(pending.pop(), ()):
                if used not in found:
                    found.add(used)
                    pending.append(used)
        expanded[nodeid] = sorted(found)
    return expanded


def _tests_of_context(context: str, fixture_users: Mapping[str, frozenset[str]]) -> frozenset[str]:
    if context.startswith(TEST_CONTEXT):
        return frozenset({context[len(TEST_CONTEXT) :]})
    if context.startswith(FIXTURE_CONTEXT):
        return fixture_users.get(context[len(FIXTURE_CONTEXT) :], frozenset())
    return frozenset()


def build_map(
    *,
    root: Path,
    modules: Mapping[Path, str],
    executed: Mapping[Path, Mapping[int, Sequence[str]]],
    test_fixtures: Mapping[str, Sequence[str]],
    passed: Iterable[str],
    unreliable: Iterable[str],
    notes: Sequence[str] = (),
    created_at: float | None = None,
) -> ImpactMap:
    """The map from per-line contexts (``executed``: absolute file -> line -> contexts).

    ``test_fixtures``: every fixture each test used (fixture contexts spread to all of them);
    ``passed``: tests recorded reliably; ``unreliable``: failed or skipped ones, which later
    runs always select.
    """
    fixture_users: dict[str, set[str]] = {}
    for nodeid, fixtures in test_fixtures.items():
        for fixture in fixtures:
            fixture_users.setdefault(fixture, set()).add(nodeid)
    frozen_users = {name: frozenset(users) for name, users in fixture_users.items()}
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
                tests |= _tests_of_context(context, frozen_users)
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
    unreliable_set = frozenset(unreliable)
    return ImpactMap(
        created_at=time.time() if created_at is None else created_at,
        files=files,
        tests=frozenset(passed) - unreliable_set,
        unreliable=unreliable_set,
        notes=tuple(notes),
    )
