"""Quarantine, replay and the flakiness report, as users meet them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from testkit.analytics.flake_cause import find_causes
from testkit.analytics.history import open_history
from testkit.cli import main

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")

FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()
PAST = (dt.date.today() - dt.timedelta(days=1)).isoformat()


def quarantine(pytester: pytest.Pytester, *entries: tuple[str, str]) -> None:
    text = "".join(
        f'[[quarantine]]\nnodeid = "{nodeid}"\nreason = "races"\nowner = "jane"\n'
        f'expires = "{expires}"\n\n'
        for nodeid, expires in entries
    )
    (pytester.path / "tests").mkdir(exist_ok=True)
    (pytester.path / "tests" / "quarantine.toml").write_text(text)


def latest_results(pytester: pytest.Pytester) -> dict[str, tuple[str, int]]:
    store = open_history(pytester.path / ".testkit" / "history.db", create=False)
    [run] = store.recent_runs(1)
    return {r.nodeid.split("::")[-1]: (r.outcome, r.quarantined) for r in store.results(run.run_id)}


def test_a_quarantined_failure_is_retried_twice_reported_and_does_not_fail_the_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_suite="""
        def test_flaky():
            assert False, "still racing"

        def test_fine():
            pass
        """
    )
    quarantine(pytester, ("test_suite.py::test_flaky", FUTURE))

    result = pytester.runpytest("-p", "no:randomly", "-v")

    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes["rerun"], outcomes["quarantined"]) == (1, 2, 1)
    assert "failed" not in outcomes
    result.stdout.fnmatch_lines(
        [
            "*test_suite.py::test_flaky QUARANTINED*",
            "QUARANTINED test_suite.py::test_flaky (call): races - not failing the run",
            "*1 passed, 2 rerun, 1 quarantined*",
        ]
    )
    assert latest_results(pytester) == {"test_flaky": ("failed", 1), "test_fine": ("passed", 0)}


def test_a_quarantined_test_does_not_hide_other_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="""
        import pytest

        @pytest.mark.parametrize("case", [1, 2])
        def test_flaky(case):
            assert False

        def test_real_bug():
            assert False
        """
    )
    quarantine(pytester, ("test_suite.py::test_flaky", FUTURE))

    result = pytester.runpytest("-p", "no:randomly")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 failed, 4 rerun, 2 quarantined*"])


def test_an_expired_entry_still_runs_but_says_the_gate_will_fail(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite="def test_flaky():\n    pass\n")
    quarantine(pytester, ("test_suite.py::test_flaky", PAST))

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["EXPIRED quarantine entry test_suite.py::test_flaky (expired *make flakiness-gate fails"]
    )
    assert latest_results(pytester) == {"test_flaky": ("passed", 1)}


def test_a_malformed_quarantine_file_stops_the_run_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite="def test_a(): pass")
    quarantine(pytester, ("test_suite.py::test_a", "next week"))

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: */tests/quarantine.toml: entry 1 (test_suite.py::test_a): "
            "expires must be a date YYYY-MM-DD, got 'next week'"
        ]
    )


def test_the_flakiness_gate_fails_on_expired_and_vanished_entries(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_suite="def test_here(): pass\ndef test_old(): pass\n")
    pytester.makefile(".toml", pyproject="[tool.testkit]\nflaky_budget_percent = 5\n")
    quarantine(pytester, ("test_suite.py::test_gone", FUTURE), ("test_suite.py::test_old", PAST))
    pytester.runpytest().assert_outcomes(passed=2)

    assert main(["flaky", "gate"]) == 1

    output = capsys.readouterr().out
    assert "flakiness gate: FAIL: flaky rate 0.0% (0/2 tests, last 1 runs), budget 5%" in output
    assert f"quarantine entry test_suite.py::test_old expired on {PAST}" in output
    assert "quarantine entry test_suite.py::test_gone names no collected test" in output
    verdict = json.loads((pytester.path / "reports" / "flakiness-gate.json").read_text())
    assert verdict["passed"] is False
    assert verdict["expired_quarantine"] == ["test_suite.py::test_old"]


def test_replay_reruns_the_same_tests_in_the_same_order_with_the_same_seed(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tests log their name and a random draw; the replay must log the same sequence."""
    pytester.makepyfile(
        test_drawn="""
        import random
        import pytest

        @pytest.mark.parametrize("case", range(8))
        def test_draw(case, request):
            with open("draws.log", "a") as log:
                log.write(f"{request.node.name} {random.random()}\\n")
        """
    )
    pytester.runpytest("-p", "randomly", "--testkit-seed", "4242").assert_outcomes(passed=8)
    original = (pytester.path / "draws.log").read_text().splitlines()
    assert original != sorted(original, key=lambda line: int(line.split("[")[1].split("]")[0]))
    (pytester.path / "draws.log").unlink()
    store = open_history(pytester.path / ".testkit" / "history.db", create=False)
    [run] = store.recent_runs(1)
    store.close()

    assert main(["replay", run.run_id]) == 0

    assert (pytester.path / "draws.log").read_text().splitlines() == original
    [replayed] = open_history(pytester.path / ".testkit" / "history.db", create=False).recent_runs(
        1
    )
    assert replayed.selection.endswith(f"replay/{run.run_id}.txt (8 ids)")
    assert replayed.seed == 4242
    assert f"replaying run {run.run_id}: 8 tests, TEST_MODE=MOCK TEST_SEED=4242" in (
        capsys.readouterr().out
    )


def test_replay_of_an_unknown_run_lists_the_recent_ones(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_suite="def test_a(): pass")
    pytester.runpytest().assert_outcomes(passed=1)

    assert main(["replay", "20990101-000000-dead"]) == 2

    error = capsys.readouterr().err
    assert "no run '20990101-000000-dead'" in error
    assert "recent runs: " in error


def test_the_flakiness_report_reruns_and_tells_flaky_from_broken_and_healthy(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """A genuinely flaky test: its outcome depends on state outside the code (a counter file)."""
    pytester.makepyfile(
        test_suite="""
        from pathlib import Path

        def test_flaky():
            counter = Path("counter.txt")
            count = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(count + 1))
            assert count % 2 == 0, "fails every other run"

        def test_broken():
            assert False

        def test_healthy():
            pass
        """
    )

    assert main(["flaky", "report", "--all", "--runs", "4"]) == 0

    output = capsys.readouterr().out
    assert "rerun 4/4:" in output
    report = json.loads((pytester.path / "reports" / "flakiness.json").read_text())
    verdicts = {row["nodeid"].split("::")[1]: row for row in report["tests"]}
    assert verdicts["test_flaky"]["verdict"] == "flaky"
    assert (verdicts["test_flaky"]["failures"], verdicts["test_flaky"]["runs"]) == (2, 4)
    assert verdicts["test_flaky"]["ci_low"] < 0.5 < verdicts["test_flaky"]["ci_high"]
    # Its failing rerun replayed (same order and seed) passed: neither order nor seed.
    assert verdicts["test_flaky"]["cause"] == "nondeterministic"
    assert verdicts["test_broken"]["verdict"] == "broken"
    assert verdicts["test_healthy"]["verdict"] == "healthy"
    markdown = (pytester.path / "reports" / "flakiness.md").read_text()
    assert "**1 flaky, 1 broken, 1 healthy.**" in markdown
    assert "| `test_suite.py::test_flaky` | flaky | 2 / 4 |" in markdown


ORDER_AND_SEED = """
import os
import random


def test_polluter():
    os.environ["TESTKIT_EXAMPLE_POLLUTED"] = "1"


def test_victim():
    assert "TESTKIT_EXAMPLE_POLLUTED" not in os.environ, "left behind by test_polluter"


def test_unlucky():
    assert random.random() < 0.5, "this seed draws high"
"""


def test_a_flaky_failure_is_told_order_dependent_or_seed_dependent_with_its_seed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=ORDER_AND_SEED)
    victim, unlucky = "test_suite.py::test_victim", "test_suite.py::test_unlucky"
    # In file order the polluter runs first; take the first seed whose draw fails test_unlucky
    # (each seed is a coin toss, so a handful of runs finds one).
    for seed in range(1, 40):
        result = pytester.runpytest_subprocess(
            "-p", "randomly", "--randomly-dont-reorganize", f"--testkit-seed={seed}"
        )
        if result.parseoutcomes().get("failed") == 2:
            break
    else:
        pytest.fail("no seed in 1..39 drew a failure for test_unlucky")
    store = open_history(pytester.path / ".testkit" / "history.db", create=False)
    [run] = store.recent_runs(1)

    causes = find_causes(
        {victim: [run.run_id], unlucky: [run.run_id]},
        store=store,
        rootdir=pytester.path,
        progress=lambda _line: None,
    )

    assert causes[victim].cause == "order-dependent"
    assert causes[victim].seed == seed
    assert causes[victim].reproduce == (
        f"make replay RUN={run.run_id}; make find-polluter TEST='{victim}' RUN={run.run_id}"
    )
    assert causes[unlucky].cause == "seed-dependent"
    assert causes[unlucky].reproduce == f"TEST_SEED={seed} pytest '{unlucky}'"


def test_quarantine_list_shows_owner_and_expiry(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    quarantine(pytester, ("tests/test_x.py::test_y", PAST))

    assert main(["quarantine"]) == 0

    output = capsys.readouterr().out
    assert "tests/test_x.py::test_y" in output
    assert f"{PAST} (EXPIRED)" in output
    assert Path("tests/quarantine.toml").is_file()


def test_the_default_report_reruns_only_suspects_and_skips_vanished_ones(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """The history makes the suspect: a test failed once on this code, then passes on rerun."""
    pytester.makepyfile(
        test_suite="""
        from pathlib import Path

        def test_failed_once():
            marker = Path("failed-once")
            if not marker.exists():
                marker.write_text("")
                assert False, "first run only"

        def test_always_fine():
            pass
        """
    )
    quarantine(pytester, ("test_suite.py::test_renamed_since", FUTURE))
    pytester.runpytest("-p", "no:rerunfailures").assert_outcomes(passed=1, failed=1)

    assert main(["flaky", "report", "--runs", "2"]) == 0

    output = capsys.readouterr().out
    assert "skipping test_suite.py::test_renamed_since: pytest no longer collects it" in output
    report = json.loads((pytester.path / "reports" / "flakiness.json").read_text())
    assert [(row["nodeid"], row["verdict"]) for row in report["tests"]] == [
        ("test_suite.py::test_failed_once", "flaky")
    ]
    assert report["tests"][0]["history_failures"] == 1
    assert report["tests"][0]["failures"] == 0
