"""Each test's own code fingerprint, recorded with its result: what flaky detection groups by.

The run's fingerprint changes with every commit, so on CI no two runs share one and "failed and
passed on the same code" could never be seen across commits. A test's own fingerprint covers
only what it can depend on: the files the impact map saw it execute or read (its own file
included; a corpus, a cassette), plus every file matching `impact_always_run` (conftest.py,
fixtures, pyproject.toml, uv.lock, migrations: a change there can reach any test). A commit
elsewhere leaves it unchanged, so the test's results accumulate across commits
(testkit.analytics.flaky_history).

Without an impact map (`make impact-map`), or for a test the map does not know, there is no own
fingerprint and the run's stands in. Computed when results are written (a batch at a time,
one hash per distinct set of files), never in a per-test hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from testkit.analytics.fingerprint import SourceHashes, combine
from testkit.impact.map import ImpactMap, ImpactMapError, read_map
from testkit.impact.rules import load_rules
from testkit.project_settings import ProjectSettingsError


def files_by_test(impact_map: ImpactMap) -> dict[str, frozenset[str]]:
    """nodeid -> the files it executed or read, its own test file included."""
    found: dict[str, set[str]] = {}
    sources = [(entry.path, entry.tests()) for entry in impact_map.files.values()]
    sources += [(data.path, data.tests) for data in impact_map.data_files.values()]
    for path, tests in sources:
        for nodeid in tests:
            found.setdefault(nodeid, set()).add(path)
    return {
        nodeid: frozenset({*files, nodeid.partition("::")[0]})
        for nodeid, files in found.items()
        if nodeid in impact_map.tests
    }


class TestCodes:
    """`code(nodeid)`: the test's own fingerprint, or None when the map does not know it."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self, hashes: SourceHashes, files: Mapping[str, frozenset[str]], shared: frozenset[str]
    ) -> None:
        self._hashes = hashes
        self._files = files
        self._shared = [(path, hashes.of(path)) for path in sorted(shared)]
        self._by_files: dict[frozenset[str], str] = {}

    def code(self, nodeid: str) -> str | None:
        files = self._files.get(nodeid)
        if files is None:
            return None
        code = self._by_files.get(files)
        if code is None:
            code = combine([*self._shared, *((path, self._hashes.of(path)) for path in files)])
            self._by_files[files] = code
        return code


def load_test_codes(rootdir: Path, hashes: SourceHashes, map_path: Path) -> TestCodes | None:
    """The test codes from the impact map at `map_path`; None without a readable map (results
    then carry the run's fingerprint, as before there was a map)."""
    try:
        impact_map = read_map(map_path)
        rules = load_rules(rootdir)
    except (ImpactMapError, OSError, ProjectSettingsError):
        return None
    prefix = hashes.rootdir_prefix
    shared = frozenset(
        path[len(prefix) :]
        for path in hashes.hashes
        if path.startswith(prefix) and rules.always_run_pattern(path[len(prefix) :])
    )
    return TestCodes(hashes, files_by_test(impact_map), shared)
