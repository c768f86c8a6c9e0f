"""Impact selection as users meet it: record the map, change code, run only what it affects."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from testkit.impact.map import read_map

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")

PYPROJECT = """
[tool.pytest.ini_options]
pythonpath = ["src"]

[tool.testkit]
impact_sources = ["src", "tests"]
"""

CALC = """
def add(a, b):
    return a + b


def double(a):
    return a * 2
"""

TESTS = """
from calc import add, double


def test_add():
    assert add(1, 2) == 3


def test_double():
    assert double(2) == 4


def test_nothing_of_calc():
    assert True
"""


@pytest.fixture(autouse=True)
def _history_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTKIT_HISTORY", "off")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "calc.py").write_text(CALC)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_calc.py").write_text(TESTS)
    recorded = pytester.runpytest_subprocess("-p", "no:randomly", "--testkit-impact-record=1")
    recorded.assert_outcomes(passed=3)
    recorded.stdout.fnmatch_lines(
        ["testkit impact: map written to .testkit/impact-map.json (3 tests*"]
    )
    return pytester


def test_a_changed_function_runs_only_the_tests_that_execute_it(project: pytest.Pytester) -> None:
    calc = project.path / "src" / "calc.py"
    # A change of the file's size: Python trusts a .pyc whose source has the same size and
    # modification second, and this edit lands within the second of the recording run.
    calc.write_text(CALC.replace("return a * 2", "return a * 2 + 1"))

    result = project.runpytest_subprocess(
        "-p", "no:randomly", "--testkit-impact-changed=src/calc.py", "-v"
    )

    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "testkit impact (CHANGED_FILES): affected tests only: src/calc.py:double changed",
            "testkit impact: 1 of 3 tests selected: src/calc.py:double changed",
            "*test_double FAILED*",
        ]
    )


SHARED_FIXTURES = """
import pytest

from calc import add


@pytest.fixture(scope="session", autouse=True)
def everywhere():
    return "every test uses me"


@pytest.fixture(scope="session")
def server_factory():
    made = {}

    def make():
        if "server" not in made:
            made["server"] = add(1, 1)  # the first caller makes it, later ones share it
        return made["server"]

    return make


@pytest.fixture(scope="session")
def server(server_factory):
    return server_factory()  # runs add only while this fixture sets up


@pytest.fixture(scope="session")
def client(request):
    return request.getfixturevalue("server") + 1  # from the cache: set up by an earlier test
"""

SERVER_TESTS = """
def test_uses_the_server(server):
    assert server == 2


def test_uses_a_client_of_the_server(client):
    assert client == 3


def test_calls_the_factory_and_gets_the_shared_server(server_factory):
    assert server_factory() == 2


def test_uses_only_the_autouse_fixture():
    assert True
"""


def test_session_fixtures_credit_their_code_to_the_tests_that_use_them_and_no_others(
    project: pytest.Pytester,
) -> None:
    (project.path / "tests" / "conftest.py").write_text(SHARED_FIXTURES)
    # Collected first, so the autouse fixture is first set up beside `server`.
    (project.path / "tests" / "test_a_server.py").write_text(SERVER_TESTS)
    project.runpytest_subprocess("-p", "no:randomly", "--testkit-impact-record=1")
    calc = project.path / "src" / "calc.py"
    calc.write_text(CALC.replace("return a + b", "return a + b + 0"))

    result = project.runpytest_subprocess(
        "-p", "no:randomly", "--testkit-impact-changed=src/calc.py", "-v"
    )

    # The autouse fixture was first set up beside `server`: that does not make the code
    # `server` ran every test's. The client got `server` from the cache, and the factory's
    # caller got what `server` had made: both depend on it.
    result.assert_outcomes(passed=4, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "*test_a_server.py::test_uses_the_server PASSED*",
            "*test_a_server.py::test_uses_a_client_of_the_server PASSED*",
            "*test_a_server.py::test_calls_the_factory_and_gets_the_shared_server PASSED*",
            "*test_calc.py::test_add PASSED*",
        ]
    )
    result.stdout.no_fnmatch_line("*test_uses_only_the_autouse_fixture*")


OTHER_TESTS = """
from pathlib import Path

Path("other-imported").touch()  # a trace of being collected


def test_other():
    assert True
"""


def test_a_test_file_with_no_selected_test_is_not_even_collected(
    project: pytest.Pytester,
) -> None:
    (project.path / "tests" / "test_other.py").write_text(OTHER_TESTS)
    project.runpytest_subprocess("-p", "no:randomly", "--testkit-impact-record=1")
    (project.path / "other-imported").unlink()
    calc = project.path / "src" / "calc.py"
    calc.write_text(CALC.replace("return a * 2", "return a * 2 + 1"))

    result = project.runpytest_subprocess(
        "-p", "no:randomly", "--testkit-impact-changed=src/calc.py"
    )

    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["testkit impact: 1 of 4 tests selected: src/calc.py:double*"])
    assert not (project.path / "other-imported").exists()


def test_a_new_test_and_a_stale_map_widen_the_selection(project: pytest.Pytester) -> None:
    tests = project.path / "tests" / "test_calc.py"
    tests.write_text(TESTS + "\n\ndef test_added_later():\n    assert True\n")
    calc = project.path / "src" / "calc.py"
    calc.write_text(CALC.replace("return a + b", "return b + a"))

    result = project.runpytest_subprocess("-p", "no:randomly", "--testkit-impact-changed=README.md")

    # README.md is ignored; calc.py changed behind the map's back (stale): add's test runs;
    # the test file changed too (stale), so all of its tests run.
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["*map is stale: 2 files changed since it was built (src/calc.py, tests/test_calc.py;*"]
    )


def test_an_unknown_file_runs_everything_and_says_why(project: pytest.Pytester) -> None:
    (project.path / "src" / "new_module.py").write_text("X = 1\n")

    result = project.runpytest_subprocess(
        "-p", "no:randomly", "--testkit-impact-changed=src/new_module.py"
    )

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "testkit impact: all 3 tests selected: full run: src/new_module.py changed and the "
            "impact map does not know it"
        ]
    )


DATA_TESTS = """
import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def corpus():
    return json.loads((DATA / "corpus.json").read_text())


def test_reads_the_corpus_through_a_fixture(corpus):
    assert corpus == {"answer": 42}


def test_reads_the_golden_file_itself():
    assert (DATA / "golden.txt").read_text() == "expected\\n"


def test_reads_nothing():
    assert True
"""


@pytest.fixture
def data_project(project: pytest.Pytester) -> pytest.Pytester:
    data = project.path / "tests" / "data"
    data.mkdir()
    (data / "corpus.json").write_text('{"answer": 42}')
    (data / "golden.txt").write_text("expected\n")
    (project.path / "tests" / "test_data.py").write_text(DATA_TESTS)
    (project.path / "uv.lock").write_text("version = 1\n")
    recorded = project.runpytest_subprocess("-p", "no:randomly", "--testkit-impact-record=1")
    recorded.stdout.fnmatch_lines(["testkit impact: map written to *6 tests*, 2 data files*"])
    return project


def test_a_changed_data_file_runs_the_tests_that_read_it(data_project: pytest.Pytester) -> None:
    (data_project.path / "tests" / "data" / "corpus.json").write_text('{"answer": 41}')

    result = data_project.runpytest_subprocess(
        "-p", "no:randomly", "--testkit-impact-changed=tests/data/corpus.json", "-v"
    )

    # A module-scoped fixture read it (in its own context, credited to the tests using it);
    # test_calc.py, none of whose tests read it, is not even collected.
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "testkit impact: 1 of 6 tests selected: "
            "tests/data/corpus.json changed (read by 1 test)",
            "*test_reads_the_corpus_through_a_fixture FAILED*",
        ]
    )


def test_a_changed_lock_file_runs_everything_and_says_so(data_project: pytest.Pytester) -> None:
    (data_project.path / "uv.lock").write_text("version = 2\n")

    result = data_project.runpytest_subprocess(
        "-p", "no:randomly", "--testkit-impact-changed=uv.lock"
    )

    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "testkit impact: all 6 tests selected: full run: uv.lock changed "
            "(impact_always_run 'uv.lock')"
        ]
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_git_base_selects_from_committed_and_uncommitted_changes(
    project: pytest.Pytester,
) -> None:
    def git(*arguments: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *arguments],
            cwd=project.path,
            check=True,
            capture_output=True,
        )

    # pytester's own files (runpytest-*, stdout, stderr) would be untracked: unknown changes.
    (project.path / ".gitignore").write_text(
        ".testkit/\n.pytest_cache/\n__pycache__/\nrunpytest-*\n/stdout\n/stderr\n"
    )
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    calc = project.path / "src" / "calc.py"
    calc.write_text(CALC.replace("return a + b", "return a + b + 0"))

    result = project.runpytest_subprocess("-p", "no:randomly", "--testkit-impact-base=HEAD")

    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["testkit impact: 1 of 3 tests selected: src/calc.py:add changed"])


def test_a_bad_git_base_is_a_usage_error_naming_it(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--testkit-impact-base=no-such-ref")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--testkit-impact-base: git *"])


POOL = """
def open_pool():
    return []


def close_pool(pool):
    pool.clear()
"""

POOL_TESTS = {
    "conftest.py": """
import pytest
from pool import close_pool, open_pool


@pytest.fixture(scope="session")
def pool():
    opened = open_pool()
    yield opened
    close_pool(opened)
""",
    "test_a_pool.py": """
def test_uses_the_pool(pool):
    assert pool == []


def test_uses_it_too(pool):
    assert pool == []
""",
    # Runs last: the session fixture's teardown happens inside this test's teardown.
    "test_z_last.py": """
def test_without_the_pool():
    assert True
""",
}


def test_a_session_fixture_teardown_is_credited_like_its_setup_not_to_the_last_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "pool.py").write_text(POOL)
    (pytester.path / "tests").mkdir()
    for name, text in POOL_TESTS.items():
        (pytester.path / "tests" / name).write_text(text)
    recorded = pytester.runpytest_subprocess("-p", "no:randomly", "--testkit-impact-record=1")
    recorded.assert_outcomes(passed=3)

    # The teardown ran inside test_without_the_pool's teardown; it is credited to the fixture's
    # users, the same tests as its setup (not to test_without_the_pool alone).
    pool = read_map(pytester.path / ".testkit" / "impact-map.json").files["src/pool.py"]
    opened, closed = pool.function("open_pool"), pool.function("close_pool")
    assert opened is not None
    assert closed is not None
    assert "tests/test_a_pool.py::test_uses_the_pool" in closed.tests
    assert closed.tests == opened.tests

    (pytester.path / "src" / "pool.py").write_text(
        POOL.replace("pool.clear()", "pool.clear()\n    raise RuntimeError('leak')")
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "--testkit-impact-changed=src/pool.py"
    )

    result.stdout.fnmatch_lines(
        ["testkit impact: * tests selected: src/pool.py:close_pool changed"]
    )
    result.stdout.fnmatch_lines(["ERROR * - RuntimeError: leak"])
