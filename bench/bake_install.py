"""Bake time and install time (cold and warm uv cache) of the default project."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from project import Figure, Measurement, bake_default, clean_env, median_of, progress, run, timed


def measure(quick: bool) -> Measurement:
    repeats = 1 if quick else 3
    measurement = Measurement(
        "bake_install",
        "Bake and install time (default project)",
        chart=("median_s", "s"),
        notes="Cold: an empty uv cache (UV_CACHE_DIR in a fresh temp dir), so every wheel is "
        "downloaded from PyPI. Warm: the same cache reused, as on a developer machine.",
    )
    with tempfile.TemporaryDirectory(prefix="bench-bake-") as scratch:
        root = Path(scratch)
        count = iter(range(1000))

        def bake() -> None:
            bake_default(root / f"bake-{next(count)}")

        progress(f"bake x{repeats}")
        bake_s, _bake_samples = median_of(repeats, bake)
        measurement.figures.append(
            Figure(
                "bake (cookiecutter)",
                {"median_s": round(bake_s, 2), "runs": repeats},
                "cookiecutter --no-input -o /tmp/x .",
            )
        )
        project = bake_default(root / "install")
        cache = root / "uv-cache"
        env = clean_env(UV_CACHE_DIR=str(cache))
        progress("install, cold uv cache")
        cold_s = timed(lambda: run(["make", "install"], cwd=project, env=env))
        warm_samples: list[float] = []
        for _ in range(repeats):
            shutil.rmtree(project / ".venv")
            progress("install, warm uv cache")
            warm_samples.append(timed(lambda: run(["make", "install"], cwd=project, env=env)))
        warm_samples.sort()
        measurement.figures += [
            Figure(
                "install, cold uv cache",
                {"median_s": round(cold_s, 2), "runs": 1},
                "UV_CACHE_DIR=$(mktemp -d) make install",
            ),
            Figure(
                "install, warm uv cache",
                {"median_s": round(warm_samples[len(warm_samples) // 2], 2), "runs": repeats},
                "rm -rf .venv && make install",
            ),
        ]
    return measurement
