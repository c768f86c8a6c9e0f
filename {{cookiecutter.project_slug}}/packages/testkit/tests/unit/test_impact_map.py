"""Building the impact map from coverage.py data with per-test contexts, and its file format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from coverage import CoverageData

from testkit.impact.build import build_map, expand_fixtures, source_files
from testkit.impact.file_reads import FileReads, data_path, is_read
from testkit.impact.map import MAP_VERSION, ImpactMapError, read_map, write_map
from testkit.impact.recorder import executed_by_context

SEARCH = """\
LIMIT = 10


def build_query(text):
    cleaned = text.strip()
    return cleaned.lower()


def rank(rows):
    return sorted(rows)
"""
ROUTES = """\
from app.search import build_query


def handle(text):
    return build_query(text)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = tmp_path / "services" / "api" / "src" / "app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "search.py").write_text(SEARCH)
    (package / "routes.py").write_text(ROUTES)
    (package / "unused.py").write_text("def never():\n    return 1\n")
    (package / "data.json").write_text('{"k": 1}')
    (package / "search.json").write_text("[]")
    return tmp_path


def coverage_fixture(project: Path) -> CoverageData:
    """What a recording run leaves: lines per context, as coverage.py stores them."""
    search = str(project / "services/api/src/app/search.py")
    routes = str(project / "services/api/src/app/routes.py")
    data = CoverageData(no_disk=True)
    data.set_context("s")  # imports at collection: belong to no test
    data.add_lines({search: [1, 4, 9], routes: [1, 4]})
    data.set_context("t:tests/unit/test_search.py::test_query")
    data.add_lines({search: [5, 6]})
    data.set_context("t:tests/unit/test_search.py::test_rank")
    data.add_lines({search: [10]})
    data.set_context("f:live_server")  # the server process a session fixture started
    data.add_lines({routes: [5], search: [5, 6]})
    return data


def test_each_function_maps_to_the_tests_that_ran_it_and_fixture_code_to_all_its_users(
    project: Path,
) -> None:
    executed = executed_by_context(coverage_fixture(project))
    fixtures = expand_fixtures(
        {
            "tests/e2e/test_api.py::test_journey": ["live_target"],
            "tests/e2e/test_api.py::test_other": ["live_server"],
            "tests/unit/test_search.py::test_query": [],
        },
        {"live_target": ["live_server", "live_target"]},  # live_target got live_server dynamically
    )

    impact_map = build_map(
        root=project,
        modules=source_files(project, ["services/*/src"]),
        executed=executed,
        test_fixtures=fixtures,
        passed=[
            "tests/unit/test_search.py::test_query",
            "tests/unit/test_search.py::test_rank",
            "tests/e2e/test_api.py::test_journey",
            "tests/e2e/test_api.py::test_other",
            "tests/e2e/test_api.py::test_broken",
        ],
        unreliable=["tests/e2e/test_api.py::test_broken"],
    )

    search = impact_map.files["services/api/src/app/search.py"]
    query = search.function("build_query")
    rank = search.function("rank")
    assert query is not None
    assert rank is not None
    assert query.tests == {
        "tests/unit/test_search.py::test_query",
        "tests/e2e/test_api.py::test_journey",
        "tests/e2e/test_api.py::test_other",
    }
    assert rank.tests == {"tests/unit/test_search.py::test_rank"}
    assert search.module_tests == frozenset()  # import-time lines belong to nobody
    routes = impact_map.files["services/api/src/app/routes.py"]
    assert routes.imports == ("services/api/src/app/__init__.py", "services/api/src/app/search.py")
    assert impact_map.importers("services/api/src/app/search.py") == {
        "services/api/src/app/routes.py"
    }
    unused = impact_map.files["services/api/src/app/unused.py"]  # known, run by no test
    assert unused.tests() == frozenset()
    assert "tests/e2e/test_api.py::test_broken" not in impact_map.tests
    assert impact_map.unreliable == {"tests/e2e/test_api.py::test_broken"}


def test_a_factory_fixture_user_depends_on_what_other_fixtures_made_with_it() -> None:
    edges = {
        "live_server": ["live_server_factory", "postgres_server"],
        "live_server_factory": ["postgres_server"],
    }

    expanded = expand_fixtures(
        {
            "tests/a.py::test_calls_the_factory": ["live_server_factory"],
            "tests/b.py::test_uses_postgres": ["postgres_server"],
        },
        edges,
        factories=["live_server_factory"],
    )

    # The factory may hand its caller the server live_server had it start.
    assert expanded["tests/a.py::test_calls_the_factory"] == [
        "live_server",
        "live_server_factory",
        "postgres_server",
    ]
    # postgres_server is no factory: what was built on it is not its users' business.
    assert expanded["tests/b.py::test_uses_postgres"] == ["postgres_server"]


def test_the_map_survives_a_round_trip_through_its_file(project: Path, tmp_path: Path) -> None:
    impact_map = build_map(
        root=project,
        modules=source_files(project, ["services/*/src"]),
        executed=executed_by_context(coverage_fixture(project)),
        test_fixtures={},
        passed=["tests/unit/test_search.py::test_query", "tests/unit/test_search.py::test_rank"],
        unreliable=[],
        reads={"services/api/src/app/data.json": ["t:tests/unit/test_search.py::test_query"]},
        created_at=123.0,
    )
    path = tmp_path / ".testkit" / "impact-map.json"

    write_map(impact_map, path)

    assert read_map(path) == impact_map
    assert set(impact_map.data_files) == {"services/api/src/app/data.json"}


def test_data_files_map_to_the_tests_that_read_them_and_fixture_reads_to_all_its_users(
    project: Path,
) -> None:
    impact_map = build_map(
        root=project,
        modules=source_files(project, ["services/*/src"]),
        executed={},
        test_fixtures={"tests/a.py::test_one": ["corpus"], "tests/a.py::test_two": ["corpus"]},
        passed=["tests/a.py::test_one", "tests/a.py::test_two", "tests/b.py::test_three"],
        unreliable=[],
        reads={
            "services/api/src/app/data.json": ["f:corpus", "t:tests/b.py::test_three"],
            "services/api/src/app/search.json": ["m:tests/b.py"],  # read while b.py was imported
            "services/api/src/app/gone.json": ["t:tests/b.py::test_three"],  # removed since
            "services/api/src/app/search.py": ["t:tests/b.py::test_three"],  # code, not data
        },
    )

    entry = impact_map.data_files["services/api/src/app/data.json"]
    assert entry.tests == {"tests/a.py::test_one", "tests/a.py::test_two", "tests/b.py::test_three"}
    by_import = impact_map.data_files["services/api/src/app/search.json"]
    assert by_import.tests == {"tests/b.py::test_three"}
    assert set(impact_map.data_files) == {
        "services/api/src/app/data.json",
        "services/api/src/app/search.json",
    }


def test_file_reads_are_credited_to_the_context_they_happen_in(tmp_path: Path) -> None:
    corpus = tmp_path / "tests" / "corpus.json"
    corpus.parent.mkdir()
    corpus.write_text("{}")
    (tmp_path / "module.py").write_text("")
    reads = FileReads(tmp_path)

    reads.start("t:test_one")
    corpus.read_text()
    (tmp_path / "module.py").read_text()  # code: coverage.py's business
    (tmp_path / "written.txt").write_text("x")  # a write is no input
    reads.context = "f:corpus_fixture"
    with open(corpus, "rb"):
        pass
    reads.stop()
    corpus.read_text()  # after stop: not recorded

    assert reads.by_context() == {
        "t:test_one": ["tests/corpus.json"],
        "f:corpus_fixture": ["tests/corpus.json"],
    }


@pytest.mark.parametrize(
    ("mode", "flags", "reads"),
    [("r", 0, True), ("rb", 0, True), ("r+", 0, True), ("w", 0, False), ("ab", 0, False)],
)
def test_open_modes_that_read(mode: str, flags: int, reads: bool) -> None:
    assert is_read(mode, flags) is reads


def test_os_open_flags_that_read() -> None:
    import os

    assert is_read(None, os.O_RDONLY)
    assert is_read(None, os.O_RDWR)
    assert not is_read(None, os.O_WRONLY | os.O_CREAT)
    assert not is_read(None, os.O_RDWR | os.O_TRUNC)


def test_only_data_files_under_the_root_count(tmp_path: Path) -> None:
    root = str(tmp_path) + "/"

    assert data_path(tmp_path / "tests" / "golden" / "a.json", root) == "tests/golden/a.json"
    assert data_path(tmp_path / "src" / "app.py", root) is None
    assert data_path(tmp_path / ".venv" / "lib" / "x.txt", root) is None
    assert data_path(tmp_path / "reports" / "junit.xml", root) is None
    assert data_path("/etc/hosts", root) is None
    assert data_path(3, root) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not readable JSON"),
        ('{"application": "something-else"}', "is not a testkit impact map"),
        ('{"application": "testkit-impact-map", "version": 99}', "has map version 99"),
        (json.dumps({"application": "testkit-impact-map", "version": MAP_VERSION}), "is malformed"),
    ],
)
def test_a_bad_map_file_is_named_with_the_fix(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "impact-map.json"
    path.write_text(content)

    with pytest.raises(ImpactMapError, match=message) as raised:
        read_map(path)

    assert str(path) in str(raised.value)
    assert "make impact-map" in str(raised.value)


def test_a_missing_map_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ImpactMapError, match=r"no impact map at .*; build one: make impact-map"):
        read_map(tmp_path / "absent.json")


def test_the_map_is_compact_json_with_tests_by_index(project: Path, tmp_path: Path) -> None:
    impact_map = build_map(
        root=project,
        modules=source_files(project, ["services/*/src"]),
        executed=executed_by_context(coverage_fixture(project)),
        test_fixtures={},
        passed=["tests/unit/test_search.py::test_query", "tests/unit/test_search.py::test_rank"],
        unreliable=[],
    )
    path = tmp_path / "map.json"
    write_map(impact_map, path)

    raw = json.loads(path.read_text())

    assert raw["tests"] == [
        "tests/unit/test_search.py::test_query",
        "tests/unit/test_search.py::test_rank",
    ]
    functions = raw["files"]["services/api/src/app/search.py"]["functions"]
    assert functions[0][0] == "build_query"
    assert functions[0][4] == [0]
