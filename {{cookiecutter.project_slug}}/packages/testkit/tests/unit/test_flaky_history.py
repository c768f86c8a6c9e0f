"""Flaky tests from the recorded history (testkit.analytics.flaky_history) and each test's own
code fingerprint (testkit.analytics.test_code), which lets a test's results accumulate across
commits that do not touch what it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.analytics.fingerprint import SourceHashes
from testkit.analytics.flaky_history import (
    Observation,
    flaky_rate_of,
    histories,
    judge_all,
    judge_history,
)
from testkit.analytics.test_code import TestCodes, files_by_test, load_test_codes
from testkit.impact.map import DataFileEntry, FileEntry, ImpactMap, write_map


def outcomes(pattern: str, code: str = "c1") -> list[Observation]:
    """'.' a pass, 'F' a failure, one run each, oldest first."""
    return [Observation(f"r{i}", code, mark == "F") for i, mark in enumerate(pattern)]


@pytest.mark.parametrize(
    ("pattern", "verdict"),
    [
        ("....", "healthy"),
        ("..F..", "flaky"),  # failed once, passed again on the same code
        ("..FF.", "flaky"),
        ("...FFF", "failing"),  # the newest results fail: a regression until it passes
        ("..F", "failing"),  # one failure at the end is not yet a flake
        ("FFF...", "transient"),  # three in a row, then passes: an outage it recovered from
    ],
)
def test_a_history_is_judged_by_its_failure_blocks(pattern: str, verdict: str) -> None:
    assert judge_history("t::a", outcomes(pattern)).verdict == verdict


def test_a_failure_fixed_by_a_change_to_the_tests_code_is_not_a_flake() -> None:
    fixed = outcomes("...F", "old") + outcomes("....", "new")

    judged = judge_history("t::a", fixed)

    assert judged.verdict == "healthy"


def test_a_flaky_verdict_carries_the_rate_and_its_interval() -> None:
    judged = judge_history("t::a", outcomes("." * 18 + "F."))

    assert judged.estimate is not None
    assert judged.estimate.rate == pytest.approx(0.05)
    assert judged.estimate.low < 0.05 < judged.estimate.high
    assert "failed 1 of 20 runs on unchanged code" in judged.reason


def test_an_outage_run_is_left_out_so_it_makes_no_test_flaky() -> None:
    # r2: every test failed (a database down); each then passed again on the same code.
    rows = [(f"t::{name}", f"r{run}", "c1", run == 2) for run in range(5) for name in "abcdefgh"]
    rows.append(("t::z", "r3", "c1", True))  # a real one-off failure of one test
    rows.append(("t::z", "r4", "c1", False))

    verdicts = judge_all(histories(rows))

    assert {nodeid for nodeid, v in verdicts.items() if v.verdict == "flaky"} == {"t::z"}
    rate = flaky_rate_of(verdicts, runs=5)
    assert (rate.flaky, rate.tests) == (1, 9)
    assert rate.failure_rates == {"t::z": pytest.approx(0.5)}


def impact_map() -> ImpactMap:
    entry = FileEntry(
        path="src/app/search.py",
        sha256="s",
        module_digest="d",
        module_tests=frozenset({"tests/test_search.py::test_q"}),
        functions=(),
        imports=(),
    )
    corpus = DataFileEntry("tests/corpus.json", "h", frozenset({"tests/test_search.py::test_q"}))
    return ImpactMap(
        created_at=0.0,
        files={entry.path: entry},
        tests=frozenset({"tests/test_search.py::test_q", "tests/test_other.py::test_o"}),
        data_files={corpus.path: corpus},
    )


def test_a_test_runs_its_own_file_and_the_files_the_map_saw_it_execute_or_read() -> None:
    assert files_by_test(impact_map()) == {
        "tests/test_search.py::test_q": frozenset(
            {"tests/test_search.py", "src/app/search.py", "tests/corpus.json"}
        )
    }


def test_a_tests_code_changes_with_its_files_and_the_shared_ones_only() -> None:
    files = files_by_test(impact_map())
    base = {"src/app/search.py": "1", "tests/test_search.py": "2", "src/app/other.py": "3"}

    def code(hashes: dict[str, str], nodeid: str = "tests/test_search.py::test_q") -> str | None:
        shared = frozenset({"conftest.py"})
        return TestCodes(SourceHashes({**hashes, "conftest.py": "c"}), files, shared).code(nodeid)

    assert code(base) == code({**base, "src/app/other.py": "changed"})  # elsewhere: same code
    assert code(base) != code({**base, "src/app/search.py": "changed"})
    assert code(base, "tests/test_other.py::test_o") is None  # unknown to the map: run's code


def test_without_a_readable_map_there_are_no_test_codes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    hashes = SourceHashes({"conftest.py": "c"})

    assert load_test_codes(tmp_path, hashes, tmp_path / "missing.json") is None
    write_map(impact_map(), tmp_path / "map.json")
    codes = load_test_codes(tmp_path, hashes, tmp_path / "map.json")
    assert codes is not None
    assert codes.code("tests/test_search.py::test_q") is not None
