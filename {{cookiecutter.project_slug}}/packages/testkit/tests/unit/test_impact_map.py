"""Building the impact map from coverage.py data with per-test contexts, and its file format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from coverage import CoverageData

from testkit.analytics.impact_map import (
    ImpactMapError,
    build_map,
    expand_fixtures,
    read_map,
    source_files,
    write_map,
)
from testkit.analytics.impact_record import executed_by_context

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


def test_the_map_survives_a_round_trip_through_its_file(project: Path, tmp_path: Path) -> None:
    impact_map = build_map(
        root=project,
        modules=source_files(project, ["services/*/src"]),
        executed=executed_by_context(coverage_fixture(project)),
        test_fixtures={},
        passed=["tests/unit/test_search.py::test_query", "tests/unit/test_search.py::test_rank"],
        unreliable=[],
        created_at=123.0,
    )
    path = tmp_path / ".testkit" / "impact-map.json"

    write_map(impact_map, path)

    assert read_map(path) == impact_map


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not readable JSON"),
        ('{"application": "something-else"}', "is not a testkit impact map"),
        ('{"application": "testkit-impact-map", "version": 99}', "has map version 99"),
        ('{"application": "testkit-impact-map", "version": 1, "tests": []}', "is malformed"),
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
