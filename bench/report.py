"""docs/benchmarks.md: a table per measurement (with reproducing commands) and its chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from project import Measurement


def table(measurement: Measurement) -> list[str]:
    columns = list(dict.fromkeys(k for f in measurement.figures for k in f.values))
    lines = [
        "| " + " | ".join(["", *columns, "reproduce"]) + " |",
        "|" + "---|" * (len(columns) + 2),
    ]
    for figure in measurement.figures:
        cells = [str(figure.values.get(column, "")) for column in columns]
        lines.append("| " + " | ".join([figure.label, *cells, f"`{figure.command}`"]) + " |")
    return lines


def chart(measurement: Measurement, directory: Path) -> str | None:
    if measurement.chart is None:
        return None
    column, unit = measurement.chart
    figures = [f for f in measurement.figures if isinstance(f.values.get(column), int | float)]
    if not figures:
        return None
    fig, axes = plt.subplots(figsize=(7, 0.5 + 0.45 * len(figures)))
    labels = [f.label for f in figures]
    values = [float(f.values[column]) for f in figures]
    axes.barh(labels, values, color="#4c72b0")
    axes.invert_yaxis()
    axes.set_xlabel(f"{column} ({unit})")
    for y, value in enumerate(values):
        axes.text(value, y, f" {value:g}", va="center")
    fig.tight_layout()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{measurement.key}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"{directory.name}/{path.name}"


def write_markdown(
    output: Path, measurements: Sequence[tuple[Measurement, Mapping[str, object]]]
) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`make bench QUICK=1` for the reduced version) in the template "
        "repository. The figures of one section come from one run on one machine, side by side; "
        "each section says when and where it was measured (`make bench ARGS='--only NAME'` "
        "refreshes one).",
        "",
    ]
    headlines = [f"- {m.headline}" for m, _ in measurements if m.headline]
    if headlines:
        lines += ["## Headlines", "", *headlines, ""]
    for measurement, about in measurements:
        lines += [f"## {measurement.title}", ""]
        lines += ["Measured: " + ", ".join(f"{key} {value}" for key, value in about.items()), ""]
        if measurement.notes:
            lines += [measurement.notes, ""]
        lines += [*table(measurement), ""]
        image = chart(measurement, output.parent / "benchmarks")
        if image:
            lines += [f"![{measurement.title}]({image})", ""]
    output.write_text("\n".join(lines), encoding="utf-8")
