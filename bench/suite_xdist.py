"""The default bake's whole suite: serial versus `-n 2` (pytest-xdist), wall time and speedup."""

from __future__ import annotations

from project import (
    REAL_SERVICES,
    Figure,
    Measurement,
    clean_env,
    installed_default_project,
    progress,
    run,
    timed,
)


def measure(quick: bool) -> Measurement:
    project = installed_default_project()
    # QUICK: the unit tier only, so the reduced bench stays under five minutes.
    selection = ["-m", "unit"] if quick else []
    env = clean_env(**REAL_SERVICES)
    pytest = str(project / ".venv" / "bin" / "pytest")
    figures = {}
    for label, extra in (("serial", ["-p", "no:xdist"]), ("-n 2", ["-n", "2"])):
        progress(f"suite {label}")
        command = [pytest, "-q", "-p", "no:randomly", *extra, *selection]
        figures[label] = timed(lambda c=command: run(c, cwd=project, env=env))
    speedup = figures["serial"] / figures["-n 2"]
    scope = "unit tier" if quick else "whole suite"
    return Measurement(
        "suite_xdist",
        f"Default bake, {scope}: serial versus pytest-xdist",
        [
            Figure(
                "serial",
                {"wall_s": round(figures["serial"], 1), "speedup": 1.0},
                "pytest -p no:xdist",
            ),
            Figure(
                "-n 2",
                {"wall_s": round(figures["-n 2"], 1), "speedup": round(speedup, 2)},
                "pytest -n 2",
            ),
        ],
        notes="One run each, back to back (a whole run takes minutes; the speedup is their "
        "ratio), machine services via TEST_*_URL, 2 cores.",
        chart=("wall_s", "s"),
        headline=(
            f"xdist: the default bake's {scope} runs {speedup:.2f}x faster with `-n 2` than "
            f"serially ({figures['-n 2']:.0f} s vs {figures['serial']:.0f} s)."
        ),
    )
