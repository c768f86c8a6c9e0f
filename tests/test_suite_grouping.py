"""This suite's own scheduling still does what its slow tests rely on.

`make test` runs on two xdist workers with `--dist loadgroup`: the tests of one bake share an
`xdist_group`, so they run on one worker, one after another, and the bake is made and installed
once. pytest 9.2 silently broke that (pytest-dev/pytest-xdist#1386): each group was spread over
both workers, every bake fixture was set up twice and the suite ran minutes longer, with no
error. pyproject.toml caps pytest until it is fixed; this test fails if a lock brings it back.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

GROUPED = """\
import pytest

pytestmark = pytest.mark.xdist_group("one-bake")


@pytest.mark.parametrize("case", range(6))
def test_grouped(case):
    pass
"""
LOOSE = """\
import pytest


@pytest.mark.parametrize("case", range(6))
def test_loose(case):
    pass
"""


def test_an_xdist_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED, encoding="utf-8")
    (tmp_path / "test_loose.py").write_text(LOOSE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p",
         "no:cacheprovider", "-p", "no:randomly", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    workers = {
        test: worker
        for worker, test in re.findall(r"\[(gw\d)\] \[ *\d+%\] PASSED (\S+)", result.stdout)
    }
    grouped = {worker for test, worker in workers.items() if "test_grouped" in test}
    assert len(workers) == 12, result.stdout[-3000:]
    assert len(grouped) == 1, f"the group ran on {sorted(grouped)}:\n{result.stdout[-3000:]}"
