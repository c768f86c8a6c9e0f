"""A baked, installed default project for the benchmarks, and timing helpers.

Every measurement runs in the same process run of `make bench`, on the same machine, against
the same bake, so figures side by side are comparable. Timings are noisy on a shared 2-core
machine: each figure is a median over repeats, and comparisons are ratios within one run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
# The environment rules and the machine's services are the template tests' own (tests/_bake.py).
sys.path.insert(0, str(TEMPLATE_ROOT / "tests"))
from _bake import REAL_SERVICES as REAL_SERVICES  # noqa: E402  (re-exported for the measurements)
from _bake import Edit as Edit  # noqa: E402
from _bake import clean_env as clean_env  # noqa: E402
from _bake import commit_all as commit_all  # noqa: E402
from _bake import edited as edited  # noqa: E402

TOOLS_BIN = Path(sys.executable).parent
# Where the benchmark bakes live; the template test of QUICK=1 points it at a temp dir.
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR") or TEMPLATE_ROOT / "build" / "bench")


@dataclass(frozen=True)
class Figure:
    """One measured row: what, the value(s), and the command that reproduces it."""

    label: str
    values: Mapping[str, float | int | str]
    command: str


@dataclass
class Measurement:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: str = ""
    chart: tuple[str, str] | None = None  # (value column to plot, unit) as a bar per figure
    headline: str = ""  # one sentence with the figure that matters, for the page's summary


def run(
    command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode} in {cwd}:\n{tail}")
    return result


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_of(repeats: int, action: Callable[[], object]) -> tuple[float, list[float]]:
    samples = [timed(action) for _ in range(repeats)]
    return statistics.median(samples), samples


def bake_default(destination: Path, **options: str) -> Path:
    """Bake the default project (cookiecutter CLI, as a user would) into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    extra = [f"{key}={value}" for key, value in options.items()]
    run(
        [
            str(TOOLS_BIN / "cookiecutter"),
            "--no-input",
            "-f",
            "-o",
            str(destination),
            str(TEMPLATE_ROOT),
            *extra,
        ],
        cwd=destination,
    )
    (project,) = [p for p in destination.iterdir() if p.is_dir()]
    return project


def installed_default_project() -> Path:
    """The benchmark bake, baked and installed once per `make bench` (reused when present)."""
    project = WORK_DIR / "default" / "acme-knowledge-base"
    if not (project / ".venv" / ".installed").is_file():
        project = bake_default(WORK_DIR / "default")
        run(["make", "install"], cwd=project)
    return project


def install_testmon(project: Path) -> None:
    """pytest-testmon, the comparison for impact selection and overhead, in the bake's venv."""
    python = project / ".venv" / "bin" / "python"
    run(
        [
            str(TOOLS_BIN / "uv"),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "pytest-testmon",
        ],
        project,
    )


def progress(message: str) -> None:
    print(f"bench {time.strftime('%H:%M:%S')}: {message}", flush=True)
