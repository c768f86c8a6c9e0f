"""flakiness-new's decisions (testkit.analytics.new_tests): which tests are new or changed since
the base, and the verdict on each from its random-order runs and its run alone."""

from __future__ import annotations

import textwrap

import pytest

from testkit.analytics.new_tests import (
    Stability,
    is_test_file,
    judge,
    select_changed_tests,
    span_name,
    summary,
)

SOURCE = textwrap.dedent(
    """\
    import pytest

    LIMIT = 3


    def test_first():
        assert LIMIT == 3


    # Each size once.
    @pytest.mark.parametrize("size", [1, 2])
    def test_sizes(size):
        assert size


    class TestGroup:
        def test_method(self):
            pass

        class TestInner:
            def test_deep(self):
                pass


    def test_last():
        pass
    """
)
# Line numbers in SOURCE: LIMIT 3, test_first 6-7, the comment 10, the decorator 11,
# test_sizes 12-13, test_method 17-18, test_deep 21-22, test_last 25-26.
PATH = "tests/test_mod.py"
COLLECTED = [
    f"{PATH}::test_first",
    f"{PATH}::test_sizes[1]",
    f"{PATH}::test_sizes[2]",
    f"{PATH}::TestGroup::test_method",
    f"{PATH}::TestGroup::TestInner::test_deep",
    f"{PATH}::test_last",
]


def select(lines: list[int], new_files: tuple[str, ...] = ()) -> list[str]:
    chosen = select_changed_tests(COLLECTED, {PATH: lines}, new_files, {PATH: SOURCE})
    return [nodeid.removeprefix(f"{PATH}::") for nodeid in chosen]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/test_api.py", True),
        ("tests/api_test.py", True),
        ("tests/conftest.py", False),
        ("tests/helpers.py", False),
        ("src/test_data.json", False),
    ],
)
def test_only_files_pytest_collects_tests_from_count_as_test_files(
    path: str, expected: bool
) -> None:
    assert is_test_file(path) is expected


def test_node_ids_map_to_the_function_names_the_spans_use() -> None:
    separator = "ǁ"

    assert span_name("t.py::test_x[1-a]") == ("t.py", "x_test_x")
    assert span_name("t.py::TestC::test_y") == ("t.py", f"x{separator}TestC{separator}test_y")
    assert span_name("t.py::TestC::TestD::test_z") is None


def test_a_changed_line_in_a_test_selects_that_test_only() -> None:
    assert select([7]) == ["test_first"]
    assert select([26]) == ["test_last"]


def test_a_changed_method_line_selects_the_method() -> None:
    assert select([18]) == ["TestGroup::test_method"]


def test_a_changed_decorator_or_comment_above_selects_every_parametrized_instance() -> None:
    assert select([11]) == ["test_sizes[1]", "test_sizes[2]"]
    assert select([10]) == ["test_sizes[1]", "test_sizes[2]"]


def test_a_change_outside_every_test_function_selects_nothing() -> None:
    assert select([3, 8]) == []


def test_every_test_of_a_new_file_is_selected_nested_classes_included() -> None:
    assert select([], new_files=(PATH,)) == [nodeid.split("::", 1)[1] for nodeid in COLLECTED]


def test_changed_lines_of_another_file_select_nothing_here() -> None:
    chosen = select_changed_tests(COLLECTED, {"tests/test_other.py": [7]}, (), {PATH: SOURCE})

    assert chosen == ()


@pytest.mark.parametrize(
    ("passes", "failures", "alone", "verdict"),
    [
        (10, 0, "passed", "stable"),
        (6, 4, "passed", "flaky"),
        (6, 4, "failed", "flaky"),
        (0, 10, "failed", "broken"),
        (0, 10, "passed", "order-dependent"),  # fails among others, passes alone
        (10, 0, "failed", "order-dependent"),  # passes among others, fails alone
        (0, 0, "skipped", "not run"),
    ],
)
def test_the_verdict_follows_the_random_order_runs_and_the_run_alone(
    passes: int, failures: int, alone: str, verdict: str
) -> None:
    assert judge("t::a", passes, failures, alone).verdict == verdict


def test_only_stable_and_not_run_tests_count_as_stable() -> None:
    stable = {v: Stability("t::a", v, 1, 0, "passed").stable for v in ("stable", "not run")}
    unstable = {
        v: Stability("t::a", v, 1, 1, "passed").stable
        for v in ("flaky", "order-dependent", "broken")
    }

    assert stable == {"stable": True, "not run": True}
    assert unstable == {"flaky": False, "order-dependent": False, "broken": False}


def test_a_verdict_line_names_the_test_and_its_failures() -> None:
    line = judge("t.py::test_x", 6, 4, "passed").line()

    assert line == "FLAKY            t.py::test_x: failed 4 of 10 random-order runs, passed alone"


def test_the_summary_counts_the_unstable_tests() -> None:
    verdicts = [judge("t::a", 10, 0, "passed"), judge("t::b", 5, 5, "passed")]

    assert summary(verdicts, 10, "main") == (
        "flakiness-new: 2 new or changed test(s) since main, 10 runs each: 1 NOT stable"
    )
    assert summary(verdicts[:1], 10, "main").endswith(": all stable")
