"""The impact map: for each source file, for each function, the tests that executed it.

Built from coverage.py data recorded with one context per test (testkit.impact.recorder):

- ``t:<nodeid>``: lines run while that test set up, ran or tore down (in-process, or in a
  subprocess the test started);
- ``f:<fixture>``: lines run while a module/session-scoped fixture was set up, including a server
  process it started; they belong to every test that used the fixture, not just the first one;
- ``s``: imports and collection, which belong to no test;
- ``m:<test file>``: for file reads only, the import of that test file (a corpus loaded into a
  module constant): they belong to the file's tests.

Besides Python source, the map holds the data files the tests read while it was recorded
(testkit.impact.file_reads: JSON corpora, cassettes, golden files, SQL read by a fixture), each
with the tests that read it.

Stored as compact JSON (DEFAULT_MAP, .testkit/impact-map.json): tests by index, per file its
content hash (a file that changed since is detected: the map is stale there), its module-level
digest, its imports, and per function the line range, AST digest and test indexes; per data
file its content hash and test indexes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAP_VERSION = 2  # 2: data files
DEFAULT_MAP = ".testkit/impact-map.json"  # relative to the rootdir; TESTKIT_IMPACT_MAP moves it
TEST_CONTEXT = "t:"
FIXTURE_CONTEXT = "f:"
MODULE_CONTEXT = "m:"
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
class DataFileEntry:
    """A file that is not Python source which tests read (opened for reading) while the map
    was recorded; ``sha256`` of its bytes."""

    path: str
    sha256: str
    tests: frozenset[str]


@dataclass(frozen=True, slots=True)
class ImpactMap:
    """Which tests execute which code, and the file contents that was true for."""

    created_at: float
    files: Mapping[str, FileEntry]
    tests: frozenset[str]  # tests recorded reliably (passed); others count as not in the map
    unreliable: frozenset[str] = frozenset()  # failed or skipped while the map was built
    notes: tuple[str, ...] = field(default=())
    data_files: Mapping[str, DataFileEntry] = field(default_factory=dict)

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
    tests = sorted(
        impact_map.tests
        | {t for e in impact_map.files.values() for t in e.tests()}
        | {t for d in impact_map.data_files.values() for t in d.tests}
    )
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
        "data_files": {
            path: {"sha256": entry.sha256, "tests": ids(entry.tests)}
            for path, entry in sorted(impact_map.data_files.items())
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
            data_files={
                path: DataFileEntry(path, raw["sha256"], names(raw["tests"]))
                for path, raw in data["data_files"].items()
            },
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
