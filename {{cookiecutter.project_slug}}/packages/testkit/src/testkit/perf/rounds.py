"""Measured rounds: one target loaded round after round (baseline, gate), each preceded by a
calibration of the machine; or base and candidate loaded in pairs at the same time (A/B)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from testkit.perf import gate
from testkit.perf.calibration import Calibration, calibrate
from testkit.perf.figures import WindowFigures
from testkit.perf.render import pair_line, round_line, undecided_line
from testkit.perf.request import PerfRequest
from testkit.perf.runner import Round, measure_round
from testkit.perf.service import Target, load_run


@dataclass
class Measured:
    """Rounds of one target so far, with the calibration taken before each."""

    rounds: list[Round] = field(default_factory=list)
    calibrations: list[Calibration] = field(default_factory=list)

    @property
    def figures(self) -> list[WindowFigures]:
        return [r.figures for r in self.rounds]


def measure_rounds(
    request: PerfRequest,
    target: Target,
    round_s: float,
    count: int,
    out_dir: Path,
    label: str,
    into: Measured | None = None,
) -> Measured:
    """``count`` more rounds of ``round_s`` seconds, appended to ``into``."""
    measured = into if into is not None else Measured()
    for _ in range(count):
        index = len(measured.rounds) + 1
        measured.calibrations.append(calibrate())
        result = measure_round(load_run(request, target, round_s), out_dir / f"round-{index:02d}")
        print(round_line(f"{label} round {index}", result.figures), flush=True)
        measured.rounds.append(result)
    return measured


@dataclass
class Pairs:
    """A/B rounds so far: base[i] and candidate[i] ran at the same time."""

    base: list[Round] = field(default_factory=list)
    candidate: list[Round] = field(default_factory=list)

    def result(self, limits: gate.PerfLimits) -> gate.PerfResult:
        return gate.compare_pairs(
            [r.figures for r in self.base], [r.figures for r in self.candidate], limits
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "base": [r.figures.as_dict() for r in self.base],
            "candidate": [r.figures.as_dict() for r in self.candidate],
            # When each side's locust ran (epoch seconds): the two of a pair overlap.
            "wall_clock": [
                {"base": b.wall_clock, "candidate": c.wall_clock}
                for b, c in zip(self.base, self.candidate, strict=True)
            ],
        }


def _one_pair(
    request: PerfRequest, targets: dict[str, Target], round_s: float, out_dir: Path, pairs: Pairs
) -> None:
    # Both rounds of a pair run at the same time, each its own locust against its own server:
    # whatever the machine does during the pair (another process, a slow disk, CPU frequency)
    # hits both sides within the same seconds. Which side starts first alternates (AB, BA, ...).
    index = len(pairs.base)
    order = ("base", "candidate") if index % 2 == 0 else ("candidate", "base")
    with ThreadPoolExecutor(max_workers=2) as pool:
        running = {
            label: pool.submit(
                measure_round,
                load_run(request, targets[label], round_s),
                out_dir / f"pair-{index + 1:02d}-{label}",
            )
            for label in order
        }
        results = {label: future.result() for label, future in running.items()}
    pairs.base.append(results["base"])
    pairs.candidate.append(results["candidate"])
    print(pair_line(index, results["base"].figures, results["candidate"].figures), flush=True)


def run_pairs(
    request: PerfRequest,
    targets: dict[str, Target],
    round_s: float,
    out_dir: Path,
    limits: gate.PerfLimits,
) -> tuple[Pairs, gate.PerfResult]:
    """``request.pairs`` pairs, then one more while the verdict is undecided, up to
    ``request.max_pairs``."""
    pairs = Pairs()
    for _ in range(request.pairs):
        _one_pair(request, targets, round_s, out_dir, pairs)
    result = pairs.result(limits)
    while len(pairs.base) < request.max_pairs and result.needs_more_pairs:
        print(f"perf-ab: {undecided_line(result)}: one more pair", flush=True)
        _one_pair(request, targets, round_s, out_dir, pairs)
        result = pairs.result(limits)
    return pairs, result
