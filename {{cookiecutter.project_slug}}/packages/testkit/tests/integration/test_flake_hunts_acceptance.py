"""The two flake hunts as users meet them: `testkit find-polluter TEST` names the earlier test
that makes TEST fail, and `testkit flakiness-new --base REF` catches a new flaky test before it
merges."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from testkit.cli import main

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")

# Ten tests; test_05 leaves a setting behind that test_08 does not expect.
ORDER_DEPENDENT_SUITE = "\n".join(
    [
        "import settings",
        *(f"def test_{n:02d}():\n    assert settings.VALUES is not None\n" for n in (1, 2, 3, 4)),
        "def test_05():\n    settings.VALUES['currency'] = 'USD'\n",
        "def test_06():\n    pass\n",
        "def test_07():\n    pass\n",
        "def test_08():\n    assert settings.VALUES.get('currency', 'EUR') == 'EUR'\n",
        "def test_09():\n    pass\n",
        "def test_10():\n    pass\n",
    ]
)


def test_find_polluter_names_the_test_that_leaves_state_behind(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(settings="VALUES = {}", test_suite=ORDER_DEPENDENT_SUITE)

    assert main(["find-polluter", "test_suite.py::test_08"]) == 0

    output = capsys.readouterr().out
    assert "bisecting the 7 tests that ran before test_suite.py::test_08 (collection order)" in (
        output
    )
    assert output.splitlines()[-1] == (
        "find-polluter: test_suite.py::test_08 fails after test_suite.py::test_05 and passes "
        "alone: test_suite.py::test_05 is the polluter (bisected 7 tests that ran before it, "
        "collection order)"
    )


def test_find_polluter_bisects_the_order_of_the_run_the_test_failed_in(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """In collection order the victim runs first and passes; the recorded run put the polluter's
    file first, so only the history's order can find it."""
    pytester.makepyfile(
        settings="VALUES = {}",
        test_a_victim="import settings\n\ndef test_victim():\n    assert not settings.VALUES\n",
        test_z_polluter=(
            "import settings\n\ndef test_clean():\n    pass\n\n"
            "def test_polluter():\n    settings.VALUES['x'] = 1\n\ndef test_after():\n    pass\n"
        ),
    )
    pytester.runpytest_subprocess(
        "-p", "no:randomly", "test_z_polluter.py", "test_a_victim.py"
    ).assert_outcomes(passed=3, failed=1)

    assert main(["find-polluter", "test_a_victim.py::test_victim"]) == 0

    output = capsys.readouterr().out
    assert "bisecting the 3 tests that ran before test_a_victim.py::test_victim (run " in output
    assert "test_z_polluter.py::test_polluter is the polluter" in output


def test_find_polluter_says_when_the_test_fails_alone(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_suite="def test_a():\n    pass\n\ndef test_b():\n    assert False\n")

    assert main(["find-polluter", "test_suite.py::test_b"]) == 1

    output = capsys.readouterr().out
    assert "test_suite.py::test_b fails when run alone, so it is not order-dependent" in output


def git(pytester: pytest.Pytester, *arguments: str) -> None:
    identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    subprocess.run(["git", *identity, *arguments], cwd=pytester.path, check=True, text=True)


@pytest.fixture
def repository(pytester: pytest.Pytester) -> pytest.Pytester:
    """A git repository with one committed, stable test file."""
    git(pytester, "init", "--quiet")
    (pytester.path / ".gitignore").write_text(".testkit/\n__pycache__/\n")
    pytester.makepyfile(test_old="def test_old():\n    pass\n")
    git(pytester, "add", "-A")
    git(pytester, "commit", "--quiet", "-m", "base")
    return pytester


def commit_new_tests(pytester: pytest.Pytester, **files: str) -> None:
    pytester.makepyfile(**{name: textwrap.dedent(text) for name, text in files.items()})
    git(pytester, "add", "-A")
    git(pytester, "commit", "--quiet", "-m", "new tests")


def test_flakiness_new_fails_naming_a_new_test_that_fails_every_second_run(
    repository: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fails every second time it runs (a count kept beside it): a 50%-flaky test, without the
    # chance that a coin's every run passes.
    commit_new_tests(
        repository,
        test_new="""
        from pathlib import Path

        def test_coin():
            count = Path("coin.count")
            runs = int(count.read_text()) + 1 if count.exists() else 1
            count.write_text(str(runs))
            assert runs % 2, "tails"
        """,
    )

    assert main(["flakiness-new", "--base", "HEAD~1", "--runs", "3"]) == 1

    output = capsys.readouterr().out
    assert "flakiness-new: 1 new or changed test(s), 3 random-order runs" in output
    [coin] = [line for line in output.splitlines() if "test_new.py::test_coin:" in line]
    assert coin.split()[0] == "FLAKY", coin
    assert "test_old" not in output
    assert output.splitlines()[-1] == (
        "flakiness-new: 1 new or changed test(s) since HEAD~1, 3 runs each: 1 NOT stable"
    )


def test_flakiness_new_passes_a_new_stable_test(
    repository: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    commit_new_tests(repository, test_new="def test_steady():\n    assert 1 + 1 == 2\n")

    assert main(["flakiness-new", "--base", "HEAD~1", "--runs", "2"]) == 0

    output = capsys.readouterr().out
    assert "flakiness-new: 1 new or changed test(s), 2 random-order runs" in output
    assert "STABLE           test_new.py::test_steady: failed 0 of 2 random-order runs" in output
    assert output.splitlines()[-1].endswith("since HEAD~1, 2 runs each: all stable")
