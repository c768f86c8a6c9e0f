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
        "downloaded from PyPI. Warm: the same cache reused, as on a developer machine. "
        "QUICK measures the warm install only (with the machine's own cache).",
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
        if quick:  # the machine's own uv cache, already warm: no download of every wheel
            env = clean_env()
        else:
            env = clean_env(UV_CACHE_DIR=str(root / "uv-cache"))
            progress("install, cold uv cache")
            cold_s = timed(lambda: run(["make", "install"], cwd=project, env=env))
            measurement.figures.append(
                Figure(
                    "install, cold uv cache",
                    {"median_s": round(cold_s, 2), "runs": 1},
                    "UV_CACHE_DIR=$(mktemp -d) make install",
                )
            )
            shutil.rmtree(project / ".venv")
        warm_samples: list[float] = []
        for _ in range(repeats):
            progress("install, warm uv cache")
            warm_samples.append(timed(lambda: run(["make", "install"], cwd=project, env=env)))
            shutil.rmtree(project / ".venv")
        warm_samples.sort()
        measurement.figures += [
            Figure(
                "install, warm uv cache",
                {"median_s": round(warm_samples[len(warm_samples) // 2], 2), "runs": repeats},
                "rm -rf .venv && make install",
            ),
        ]
    measurement.headline = "Bake and install: " + ", ".join(
        f"{figure.label} {figure.values['median_s']:.1f} s" for figure in measurement.figures
    )
    return measurement
