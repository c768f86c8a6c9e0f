"""The default bake's whole suite: serial versus `-n 2` (pytest-xdist), wall time and speedup."""

from __future__ import annotations

from project import (
    REAL_SERVICES,
    Figure,
    Measurement,
    clean_env,
    installed_default_project,
    median_of,
    progress,
    run,
)


def measure(quick: bool) -> Measurement:
    project = installed_default_project()
    repeats = 1 if quick else 3
    # QUICK: the unit and property tiers only, so the reduced bench stays under five minutes.
    selection = ["-m", "unit or property"] if quick else []
    env = clean_env(**REAL_SERVICES)
    pytest = str(project / ".venv" / "bin" / "pytest")
    figures = {}
    for label, extra in (("serial", ["-p", "no:xdist"]), ("-n 2", ["-n", "2"])):
        progress(f"suite {label} x{repeats}")
        command = [pytest, "-q", "-p", "no:randomly", *extra, *selection]
        figures[label], _ = median_of(repeats, lambda c=command: run(c, cwd=project, env=env))
    speedup = figures["serial"] / figures["-n 2"]
    scope = "unit + property tiers" if quick else "whole suite"
    return Measurement(
        "suite_xdist",
        f"Default bake, {scope}: serial versus pytest-xdist",
        [
            Figure(
                "serial",
                {"median_s": round(figures["serial"], 1), "speedup": 1.0},
                "pytest -p no:xdist",
            ),
            Figure(
                "-n 2",
                {"median_s": round(figures["-n 2"], 1), "speedup": round(speedup, 2)},
                "pytest -n 2",
            ),
        ],
        notes=f"Median of {repeats} run(s), machine services via TEST_*_URL, 2 cores.",
        chart=("median_s", "s"),
    )
