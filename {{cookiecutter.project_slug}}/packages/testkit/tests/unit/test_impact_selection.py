"""Impact selection decisions: each widening rule, function granularity, stale maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.analytics.changes import Change, change_from_files, parse_unified_zero
from testkit.impact.map import DataFileEntry, FileEntry, FunctionEntry, ImpactMap
from testkit.impact.rules import ImpactRules, matches
from testkit.impact.selection import CurrentFiles, format_selection, select_tests
from testkit.impact.source_outline import file_digest, outline_source

SERVICE = "services/api/src/app/search.py"
CALLER = "services/api/src/app/routes.py"
TEST_FILE = "tests/unit/test_search.py"

SERVICE_TEXT = """\
LIMIT = 10


def build_query(text):
    return text.strip().lower()


def rank(rows):
    return sorted(rows)
"""
CALLER_TEXT = """\
from app.search import build_query


def handle(text):
    return build_query(text)
"""
TEST_TEXT = """\
def test_build_query():
    assert True
"""


def entry(
    path: str, text: str, tests: dict[str, set[str]], imports: tuple[str, ...] = ()
) -> FileEntry:
    outline = outline_source(text)
    return FileEntry(
        path=path,
        sha256=file_digest(text),
        module_digest=outline.module_digest,
        module_tests=frozenset(),
        functions=tuple(
            FunctionEntry(s.name, s.start, s.end, s.digest, frozenset(tests.get(s.name, set())))
            for s in outline.scopes
        ),
        imports=imports,
    )


Q = "tests/unit/test_search.py::test_build_query"
R = "tests/unit/test_rank.py::test_rank"
H = "tests/e2e/test_routes.py::test_handle"
ALL_TESTS = frozenset({Q, R, H})


@pytest.fixture
def impact_map() -> ImpactMap:
    return ImpactMap(
        created_at=0.0,
        files={
            SERVICE: entry(SERVICE, SERVICE_TEXT, {"build_query": {Q, H}, "rank": {R}}),
            CALLER: entry(CALLER, CALLER_TEXT, {"handle": {H}}, imports=(SERVICE,)),
            TEST_FILE: entry(TEST_FILE, TEST_TEXT, {"test_build_query": {Q}}),
        },
        tests=ALL_TESTS,
    )


def unchanged() -> dict[str, str | None]:
    return {SERVICE: SERVICE_TEXT, CALLER: CALLER_TEXT, TEST_FILE: TEST_TEXT}


def test_a_changed_function_selects_only_the_tests_that_executed_it(impact_map: ImpactMap) -> None:
    changed = SERVICE_TEXT.replace("return sorted(rows)", "return sorted(rows, reverse=True)")
    current = unchanged() | {SERVICE: changed}

    selection = select_tests(
        Change((SERVICE,), "CHANGED_FILES"), impact_map, CurrentFiles(current), ImpactRules()
    )

    assert not selection.run_all
    assert selection.tests == {R}
    assert [n for n in sorted(ALL_TESTS) if selection.selects(n)] == [R]
    assert selection.reasons[0] == f"{SERVICE}:rank changed"
    # The other test files are not even collected; a file the map does not know would be.
    assert selection.files_to_skip() == {"tests/unit/test_search.py", "tests/e2e/test_routes.py"}


def test_a_comment_only_edit_selects_nothing(impact_map: ImpactMap) -> None:
    current = unchanged() | {SERVICE: SERVICE_TEXT.replace("LIMIT = 10", "LIMIT = 10  # rows")}

    selection = select_tests(
        Change((SERVICE,), "CHANGED_FILES"), impact_map, CurrentFiles(current), ImpactRules()
    )

    assert selection.tests == frozenset()
    assert "no code change" in selection.reasons[0]


def test_a_module_level_change_reaches_the_tests_of_every_importer(impact_map: ImpactMap) -> None:
    current = unchanged() | {SERVICE: SERVICE_TEXT.replace("LIMIT = 10", "LIMIT = 20")}

    selection = select_tests(
        Change((SERVICE,), "CHANGED_FILES"), impact_map, CurrentFiles(current), ImpactRules()
    )

    assert selection.tests == {Q, R, H}
    assert "module level (and 1 importing files)" in selection.reasons[0]


def test_git_lines_locate_the_function_when_the_file_matches_the_map(
    impact_map: ImpactMap,
) -> None:
    change = Change((SERVICE,), "git diff HEAD", lines={SERVICE: (5,)})  # inside build_query

    selection = select_tests(change, impact_map, CurrentFiles(unchanged()), ImpactRules())

    assert selection.tests == {Q, H}


def test_a_declared_file_unchanged_since_the_map_counts_as_wholly_changed(
    impact_map: ImpactMap,
) -> None:
    selection = select_tests(
        Change((SERVICE,), "CHANGED_FILES"), impact_map, CurrentFiles(unchanged()), ImpactRules()
    )

    assert selection.tests == {Q, R, H}


def test_a_changed_test_file_selects_its_own_tests(impact_map: ImpactMap) -> None:
    current = unchanged() | {TEST_FILE: TEST_TEXT + "\n\ndef test_new():\n    assert 1\n"}

    selection = select_tests(
        Change((TEST_FILE,), "CHANGED_FILES"), impact_map, CurrentFiles(current), ImpactRules()
    )

    assert selection.selects(f"{TEST_FILE}::test_new")
    assert selection.selects(Q)
    assert not selection.selects(R)
    assert f"{TEST_FILE} changed" in selection.reasons


def test_tests_missing_from_the_map_are_always_selected(impact_map: ImpactMap) -> None:
    selection = select_tests(
        Change((), "CHANGED_FILES"), impact_map, CurrentFiles(unchanged()), ImpactRules()
    )

    assert selection.selects("tests/unit/test_brand_new.py::test_it")
    assert not selection.selects(R)
    selected, deselected, unknown = selection.split([R, "tests/unit/test_brand_new.py::test_it"])
    assert (selected, deselected, unknown) == (["tests/unit/test_brand_new.py::test_it"], [R], 1)


@pytest.mark.parametrize(
    "path",
    [
        "services/api/migrations/versions/0003_add_column.py",
        "services/api/src/app/queries/search.sql",
        "tests/_fixtures/service.py",
        "tests/conftest.py",
        "pyproject.toml",
        "uv.lock",
    ],
)
def test_a_declared_dependency_runs_everything(impact_map: ImpactMap, path: str) -> None:
    selection = select_tests(
        Change((path,), "CHANGED_FILES"),
        impact_map,
        CurrentFiles(unchanged() | {path: "x"}),
        ImpactRules(),
    )

    assert selection.run_all
    assert selection.selects(R)
    assert selection.reasons[0].startswith(f"full run: {path} changed (impact_always_run ")


def test_always_run_globs_come_from_the_rules(impact_map: ImpactMap) -> None:
    rules = ImpactRules(always_run=("*.yaml",))
    selection = select_tests(
        Change(("deploy/app.yaml",), "CHANGED_FILES"), impact_map, CurrentFiles(unchanged()), rules
    )

    assert selection.run_all
    assert selection.reasons[0] == "full run: deploy/app.yaml changed (impact_always_run '*.yaml')"


def test_an_unknown_file_runs_everything(impact_map: ImpactMap) -> None:
    path = "services/api/src/app/new_module.py"
    selection = select_tests(
        Change((path,), "CHANGED_FILES"),
        impact_map,
        CurrentFiles(unchanged() | {path: "x = 1\n"}),
        ImpactRules(),
    )

    assert selection.run_all
    assert selection.reasons == (f"full run: {path} changed and the impact map does not know it",)


def test_ignored_files_select_nothing(impact_map: ImpactMap) -> None:
    selection = select_tests(
        Change(("docs/testing.md",), "CHANGED_FILES"),
        impact_map,
        CurrentFiles(unchanged()),
        ImpactRules(),
    )

    assert not selection.run_all
    assert selection.tests == frozenset()
    assert selection.reasons == ("docs/testing.md ignored (impact_ignore)",)


def test_a_file_that_does_not_parse_runs_everything(impact_map: ImpactMap) -> None:
    current = unchanged() | {SERVICE: "def build_query(:\n"}

    selection = select_tests(
        Change((SERVICE,), "CHANGED_FILES"), impact_map, CurrentFiles(current), ImpactRules()
    )

    assert selection.run_all
    assert selection.reasons == (f"full run: {SERVICE} does not parse (line 1)",)


def test_a_file_changed_outside_the_change_set_makes_the_map_stale_and_widens(
    impact_map: ImpactMap,
) -> None:
    current = unchanged() | {
        CALLER: CALLER_TEXT.replace("build_query(text)", "build_query(text)[:5]")
    }

    selection = select_tests(
        Change((), "CHANGED_FILES"), impact_map, CurrentFiles(current), ImpactRules()
    )

    assert selection.stale == (CALLER,)
    assert selection.tests == {H}
    assert selection.reasons == (
        f"map is stale: 1 file changed since it was built ({CALLER}; treated as changed; "
        "rebuild with make impact-map)",
    )


def test_a_deleted_file_selects_its_tests_and_its_importers_tests(impact_map: ImpactMap) -> None:
    current = unchanged() | {SERVICE: None}

    selection = select_tests(
        Change((SERVICE,), "CHANGED_FILES"), impact_map, CurrentFiles(current), ImpactRules()
    )

    assert selection.tests == {Q, R, H}
    assert selection.reasons[0] == f"{SERVICE} deleted"


CORPUS = "tests/rag/corpus.json"


def with_corpus(impact_map: ImpactMap) -> ImpactMap:
    """The map, with a data file that test Q read while it was recorded."""
    data = {CORPUS: DataFileEntry(CORPUS, "digest-then", frozenset({Q}))}
    return ImpactMap(impact_map.created_at, impact_map.files, impact_map.tests, data_files=data)


def test_a_changed_data_file_selects_the_tests_that_read_it(impact_map: ImpactMap) -> None:
    current = CurrentFiles(unchanged(), {CORPUS: "digest-now"})

    selection = select_tests(
        Change((CORPUS,), "CHANGED_FILES"), with_corpus(impact_map), current, ImpactRules()
    )

    assert not selection.run_all
    assert selection.tests == {Q}
    assert selection.reasons == (f"{CORPUS} changed (read by 1 test)",)


def test_a_deleted_data_file_selects_its_readers(impact_map: ImpactMap) -> None:
    current = CurrentFiles(unchanged(), {CORPUS: None})

    selection = select_tests(
        Change((CORPUS,), "CHANGED_FILES"), with_corpus(impact_map), current, ImpactRules()
    )

    assert selection.tests == {Q}
    assert selection.reasons == (f"{CORPUS} deleted (read by 1 test)",)


def test_a_data_file_changed_outside_the_change_set_makes_the_map_stale(
    impact_map: ImpactMap,
) -> None:
    current = CurrentFiles(unchanged(), {CORPUS: "digest-now"})

    selection = select_tests(
        Change((), "CHANGED_FILES"), with_corpus(impact_map), current, ImpactRules()
    )

    assert selection.stale == (CORPUS,)
    assert selection.tests == {Q}
    unchanged_corpus = CurrentFiles(unchanged(), {CORPUS: "digest-then"})
    assert (
        select_tests(
            Change((), "CHANGED_FILES"), with_corpus(impact_map), unchanged_corpus, ImpactRules()
        ).tests
        == frozenset()
    )


def test_the_collection_line_counts_and_explains() -> None:
    from testkit.impact.selection import Selection

    selection = Selection(False, frozenset({R}), frozenset(), ALL_TESTS, ("a.py:f changed",))

    line = format_selection(selection, total=606, selected=37, unknown=2)

    assert (
        line == "testkit impact: 37 of 606 tests selected: a.py:f changed; 2 tests not in the map"
    )


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("tests/conftest.py", "conftest.py", True),
        ("conftest.py", "**/conftest.py", True),
        ("a/b/migrations/v1.py", "**/migrations/**", True),
        ("tests/_fixtures/service.py", "tests/_fixtures/**", True),
        ("tests/unit/_fixtures.py", "tests/_fixtures/**", False),
        ("src/app/query.sql", "*.sql", True),
    ],
)
def test_glob_patterns_match_like_gitignore(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected


def test_changed_files_are_made_relative_to_the_root(tmp_path: Path) -> None:
    change = change_from_files(f"./a.py, {tmp_path}/b/c.py  d.py,a.py", tmp_path)

    assert change.files == ("a.py", "b/c.py", "d.py")


def test_git_unified_zero_diff_gives_new_side_lines() -> None:
    diff = """\
diff --git a/x.py b/x.py
--- a/x.py
+++ b/x.py
@@ -3,2 +3,3 @@ def f():
@@ -10 +11,0 @@ def g():
diff --git a/gone.py b/gone.py
--- a/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
"""
    assert parse_unified_zero(diff) == {"x.py": (3, 4, 5, 11, 12)}


def test_scopes_cover_methods_nested_functions_and_decorators() -> None:
    text = """\
import functools


class Repo:
    limit = 3

    @functools.cache
    def find(self, key):
        def inner():
            return key
        return inner()

    @property
    def size(self):
        return 1

    @size.setter
    def size(self, value):
        pass
"""
    outline = outline_source(text, module="app.repo")

    names = [(s.name, s.start, s.end) for s in outline.scopes]
    assert names == [
        ("Repo.find", 7, 11),
        ("Repo.find.inner", 9, 10),
        ("Repo.size", 13, 15),
        ("Repo.size#2", 17, 19),
    ]
    innermost = outline.scope_at(10)
    assert innermost is not None
    assert innermost.name == "Repo.find.inner"
    assert outline.scope_at(5) is None
    assert outline.imports == ("functools",)
    moved = "\n\n" + text.replace("limit = 3", "limit = 3  # rows")
    assert outline_source(moved).digests() == outline.digests()
    assert outline_source(moved).module_digest == outline.module_digest
