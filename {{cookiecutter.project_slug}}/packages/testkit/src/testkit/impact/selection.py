"""Impact selection: from a change (files, or a git diff) and the impact map, the tests to run.

`select_tests` is the decision, a pure function returning a `Selection` with its reasons:

- a changed function selects the tests that executed it (function granularity: the AST digests
  in the map are compared with the file as it is now, or, when the file is unchanged since the
  map was built, git's changed lines are located in it);
- a change to module-level code (imports, constants, class attributes) selects every test that
  touched the file or any file importing it, directly or not;
- a new or changed test file selects its own tests; tests not in the map (new, or failed or
  skipped while it was built) are always selected;
- a changed data file the tests read while the map was built (a corpus, a cassette, a golden
  file) selects the tests that read it;
- a file matching ``impact_always_run`` (migrations, SQL, fixtures, conftest, pyproject, lock)
  or a file the map does not know (and ``impact_ignore`` does not cover) selects everything,
  and the reason says so first ("full run: uv.lock changed ...");
- files that differ from the map but are not in the change set make the map stale there: they
  are treated as changed too, and the header says so.

testkit.impact.plugin applies it through pytest's own deselection and says why in the
header; testkit.analytics.changes says what changed; testkit.impact.rules holds the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testkit.analytics.changes import Change
from testkit.impact.build import bytes_digest
from testkit.impact.map import ImpactMap, ImpactMapError, read_map
from testkit.impact.rules import ImpactRules
from testkit.impact.source_outline import file_digest, outline_source

MAX_NAMED = 4  # reasons name at most this many functions or files, then count the rest


@dataclass(frozen=True, slots=True)
class CurrentFiles:
    """The worktree as a selection sees it: the text now of each Python file (None: gone or not
    text) and the content hash now of each data file (None: gone)."""

    text: Mapping[str, str | None]
    data_digests: Mapping[str, str | None] = field(default_factory=dict)

    def stale(self, impact_map: ImpactMap, declared: Iterable[str] = ()) -> list[str]:
        """Files that differ from the map and are not in ``declared``."""
        skip = set(declared)
        stale = [
            path
            for path, entry in impact_map.files.items()
            if path not in skip
            and ((text := self.text.get(path)) is None or file_digest(text) != entry.sha256)
        ]
        stale += [
            path
            for path, data in impact_map.data_files.items()
            if path not in skip and self.data_digests.get(path) != data.sha256
        ]
        return sorted(stale)


@dataclass(frozen=True, slots=True)
class Selection:
    """What to run and why. ``run_all``: everything; otherwise ``tests`` (from the map), every
    test in ``test_files``, and every test the map does not know."""

    run_all: bool
    tests: frozenset[str]
    test_files: frozenset[str]
    known_tests: frozenset[str]
    reasons: tuple[str, ...]
    stale: tuple[str, ...] = ()

    def selects(self, nodeid: str) -> bool:
        if self.run_all or nodeid in self.tests or nodeid not in self.known_tests:
            return True
        return nodeid.partition("::")[0] in self.test_files

    def files_to_skip(self) -> frozenset[str]:
        """Test files the map knows of which no test is selected: not even collected (importing
        every test module is most of a small selection's start-up). A file the map does not
        know is collected: its tests are new and run."""
        if self.run_all:
            return frozenset()
        known = {nodeid.partition("::")[0] for nodeid in self.known_tests}
        wanted = {nodeid.partition("::")[0] for nodeid in self.tests} | self.test_files
        return frozenset(known - wanted)

    def split(self, nodeids: Iterable[str]) -> tuple[list[str], list[str], int]:
        """(selected, deselected, how many selected ones the map does not know)."""
        selected: list[str] = []
        deselected: list[str] = []
        for nodeid in nodeids:
            (selected if self.selects(nodeid) else deselected).append(nodeid)
        unknown = 0 if self.run_all else sum(n not in self.known_tests for n in selected)
        return selected, deselected, unknown


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _named(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def _analyse_file(
    path: str,
    text: str | None,
    impact_map: ImpactMap,
    lines: tuple[int, ...] | None,
) -> tuple[set[str], str]:
    """The tests one changed file in the map affects, and how to say it."""
    entry = impact_map.files[path]
    affected: set[str] = set()
    if text is None:
        affected |= entry.tests()
        for importer in impact_map.importers(path):
            affected |= impact_map.files[importer].tests()
        return affected, f"{path} deleted"
    changed: list[str] = []
    module_level = False
    if file_digest(text) == entry.sha256:
        if not lines:
            # The map already shows this content: which part changed cannot be told.
            affected = set(entry.tests())
            importers = impact_map.importers(path)
            for importer in importers:
                affected |= impact_map.files[importer].tests()
            return affected, (
                f"{path} (as it was when the map was built, so the whole file and its "
                f"{len(importers)} importing files)"
            )
        else:
            for line in lines:
                function = entry.function_at(line)
                if function is None:
                    module_level = True
                elif function.name not in changed:
                    changed.append(function.name)
    else:
        outline = outline_source(text)  # SyntaxError is the caller's to handle
        now = outline.digests()
        changed = [f.name for f in entry.functions if now.get(f.name) != f.digest]
        module_level = outline.module_digest != entry.module_digest
    for name in changed:
        function = entry.function(name)
        if function is not None:
            affected |= function.tests
    parts = [f"{path}:{name}" for name in changed]
    if module_level:
        affected |= entry.tests()
        importers = impact_map.importers(path)
        for importer in importers:
            affected |= impact_map.files[importer].tests()
        parts.append(f"{path} module level (and {len(importers)} importing files)")
    if not parts:
        return affected, f"{path}: no code change (comments or formatting)"
    return affected, _named(parts) + " changed"


def select_tests(
    change: Change, impact_map: ImpactMap, current: CurrentFiles, rules: ImpactRules
) -> Selection:
    """Decide what a change needs to run. ``current``: the files of the map and of the change
    as they are now."""
    declared = set(change.files)
    stale = current.stale(impact_map, declared)
    reasons: list[str] = []  # about the declared change; stale files get one summary line
    tests: set[str] = set()
    test_files: set[str] = set()
    run_all: list[str] = []
    change_reasons: list[str] = []
    for path in sorted(declared | set(stale)):
        said_here = path in declared
        pattern = rules.always_run_pattern(path)
        if pattern is not None:
            run_all.append(f"full run: {path} changed (impact_always_run {pattern!r})")
            continue
        is_test = rules.is_test_file(path)
        if is_test:
            test_files.add(path)
            if said_here:
                gone = current.text.get(path) is None
                reasons.append(f"{path} {'deleted' if gone else 'changed'}")
        if path in impact_map.files:
            try:
                affected, said = _analyse_file(
                    path, current.text.get(path), impact_map, change.lines.get(path)
                )
            except SyntaxError as error:
                run_all.append(f"full run: {path} does not parse (line {error.lineno})")
                continue
            tests |= affected
            if said_here and not is_test:
                change_reasons.append(said)
        elif path in impact_map.data_files:
            readers = impact_map.data_files[path].tests
            tests |= readers
            if said_here:
                what = "deleted" if current.data_digests.get(path) is None else "changed"
                change_reasons.append(f"{path} {what} (read by {_count(len(readers), 'test')})")
        elif not is_test:
            if rules.is_ignored(path):
                reasons.append(f"{path} ignored (impact_ignore)")
            else:
                run_all.append(f"full run: {path} changed and the impact map does not know it")
    reasons[:0] = change_reasons
    if stale:
        reasons.append(
            f"map is stale: {_count(len(stale), 'file')} changed since it was built "
            f"({_named(stale)}; "
            "treated as changed; rebuild with make impact-map)"
        )
    if run_all:
        shown = run_all[:MAX_NAMED]
        if len(run_all) > MAX_NAMED:
            shown.append(f"{len(run_all) - MAX_NAMED} more files run everything")
        reasons[:0] = shown
    if not declared and not stale:
        reasons.append(f"no changed files ({change.source})")
    return Selection(
        run_all=bool(run_all),
        tests=frozenset(tests),
        test_files=frozenset(test_files),
        known_tests=impact_map.tests,
        reasons=tuple(reasons),
        stale=tuple(stale),
    )


def format_selection(selection: Selection, *, total: int, selected: int, unknown: int) -> str:
    """The line after collection, e.g. 'testkit impact: 37 of 606 tests selected: ...'."""
    if selection.run_all:
        return f"testkit impact: all {total} tests selected: " + "; ".join(selection.reasons)
    tail = [*selection.reasons]
    if unknown:
        tail.append(f"{unknown} tests not in the map")
    return f"testkit impact: {selected} of {total} tests selected: " + "; ".join(tail)


def read_current(root: Path, impact_map: ImpactMap, changed: Iterable[str] = ()) -> CurrentFiles:
    """The files of the map, and the changed ones, as they are now: data files (in the map's
    data files) by content hash, the rest as text."""
    text: dict[str, str | None] = {}
    digests: dict[str, str | None] = {}
    for path in dict.fromkeys([*impact_map.files, *impact_map.data_files, *changed]):
        if path in impact_map.data_files:
            digests[path] = bytes_digest(root / path)
            continue
        try:
            text[path] = (root / path).read_text()
        except (OSError, UnicodeDecodeError):
            text[path] = None
    return CurrentFiles(text, digests)


def selection_for(change: Change, map_path: Path, root: Path, rules: ImpactRules) -> Selection:
    """Load the map and the current files, then decide; a missing or unreadable map runs all."""
    try:
        impact_map = read_map(map_path)
    except ImpactMapError as error:
        return Selection(True, frozenset(), frozenset(), frozenset(), (f"full run: {error}",))
    return select_tests(change, impact_map, read_current(root, impact_map, change.files), rules)
