"""The random-fault chaos soak, its pure part: the knobs, the fault schedule and the summary.

A soak runs a steady load while, every interval, a fault from the proxy's vocabulary starts on
a random dependency with probability CHAOS_PROBABILITY, for CHAOS_DURATION seconds in all. The
whole schedule is drawn up front from one seed (`plan_faults`), so the run that failed is
replayed fault for fault with CHAOS_SEED=<the printed seed>. Applying it to live proxies is
testkit.chaos.soak_runner; the load and the invariants belong to the project's soak test.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from testkit.chaos.toxics import STREAMS

DEFAULT_PROBABILITY = 0.2
DEFAULT_DURATION_S = 30.0
INTERVAL_S = 1.0
# How long one fault lasts: long enough to trip timeouts and reconnects, short enough that a
# 20 s soak sees several.
FAULT_MIN_S = 0.5
FAULT_MAX_S = 3.0
DOWN = "down"  # the proxy refuses connections and cuts the open ones (not a toxic)


# Each kind of fault and how to draw its attributes: Toxiproxy's toxics plus "down".
def _latency(rng: random.Random) -> dict[str, int]:
    latency = rng.randint(50, 400)
    return {"latency": latency, "jitter": rng.randint(0, latency // 2)}


def _slicer(rng: random.Random) -> dict[str, int]:
    average = rng.randint(8, 64)
    return {
        "average_size": average,
        "size_variation": rng.randint(0, average - 1),
        "delay": rng.randint(0, 500),
    }


FAULT_KINDS: Mapping[str, Callable[[random.Random], dict[str, int]]] = {
    DOWN: lambda rng: {},
    "latency": _latency,
    "timeout": lambda rng: {"timeout": rng.randint(200, 2000)},
    "reset_peer": lambda rng: {"timeout": rng.randint(0, 200)},
    "bandwidth": lambda rng: {"rate": rng.randint(5, 50)},
    "slicer": _slicer,
    "limit_data": lambda rng: {"bytes": rng.randint(1_000, 20_000)},
}


class SoakSettingError(ValueError):
    """A CHAOS_* knob has a value outside what it allows (one line, naming it)."""


@dataclass(frozen=True, slots=True)
class SoakConfig:
    probability: float
    duration_s: float
    seed: int
    interval_s: float = INTERVAL_S


def soak_config(
    probability: str | None, duration: str | None, seed: str | None, default_seed: int
) -> SoakConfig:
    """The soak's knobs from their raw values (None: unset), each checked with a one-line error."""
    return SoakConfig(
        probability=_number("CHAOS_PROBABILITY", probability, DEFAULT_PROBABILITY, 0.0, 1.0),
        duration_s=_number("CHAOS_DURATION", duration, DEFAULT_DURATION_S, 1.0, 86_400.0),
        seed=default_seed if seed is None else _whole("CHAOS_SEED", seed),
    )


def _number(name: str, raw: str | None, default: float, low: float, high: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise SoakSettingError(f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
    return value


def _whole(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SoakSettingError(f"{name} must be a whole number >= 0, got {raw!r}") from None
    if value < 0:
        raise SoakSettingError(f"{name} must be a whole number >= 0, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One fault: on `dependency`, from `start_s` for `duration_s` seconds after the soak began."""

    start_s: float
    duration_s: float
    dependency: str
    kind: str
    stream: str = "downstream"
    attributes: Mapping[str, int] = field(default_factory=dict)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def describe(self) -> str:
        details = " ".join(f"{key}={value}" for key, value in self.attributes.items())
        where = "" if self.kind == DOWN else f" {self.stream}"
        when = f"{self.start_s:5.1f}s +{self.duration_s:.1f}s"
        return f"{when} {self.dependency}: {self.kind}{where} {details}".rstrip()


def plan_faults(config: SoakConfig, dependencies: Sequence[str]) -> tuple[PlannedFault, ...]:
    """The whole schedule, from the seed alone: the same config gives the same faults.

    At each interval tick a fault starts with the configured probability, on a dependency that
    has none at that moment (two faults on one proxy would blur which one did what). Every
    fault ends by the end of the soak, so the invariants are checked on a healthy system.
    """
    if not dependencies:
        raise ValueError("a soak needs at least one dependency to break")
    rng = random.Random(config.seed)
    faults: list[PlannedFault] = []
    busy_until = dict.fromkeys(dependencies, 0.0)
    ticks = int(config.duration_s / config.interval_s)
    for tick in range(ticks):
        start = round(tick * config.interval_s, 3)
        if rng.random() >= config.probability:
            continue
        free = [name for name in dependencies if busy_until[name] <= start]
        if not free:
            continue
        dependency = rng.choice(free)
        kind = rng.choice(sorted(FAULT_KINDS))
        attributes = FAULT_KINDS[kind](rng)
        stream = rng.choice(STREAMS) if kind != DOWN else "downstream"
        length = round(rng.uniform(FAULT_MIN_S, FAULT_MAX_S), 1)
        length = min(length, round(config.duration_s - start, 3))
        if length <= 0:
            continue
        faults.append(PlannedFault(start, length, dependency, kind, stream, attributes))
        busy_until[dependency] = start + length
    return tuple(faults)


@dataclass(frozen=True, slots=True)
class InvariantResult:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class SoakReport:
    """What a soak did and found; `summary()` is the table it prints."""

    config: SoakConfig
    faults: tuple[PlannedFault, ...]
    requests: Mapping[str, int]  # route -> requests sent
    outcomes: Mapping[tuple[str, str], int]  # (route, outcome class) -> count
    invariants: tuple[InvariantResult, ...]

    @property
    def passed(self) -> bool:
        return all(invariant.passed for invariant in self.invariants)

    def summary(self) -> str:
        config = self.config
        lines = [
            f"chaos soak: {config.duration_s:g}s, CHAOS_PROBABILITY={config.probability:g}, "
            f"CHAOS_SEED={config.seed} (replay: make chaos-soak CHAOS_SEED={config.seed})",
            "",
            "faults injected by kind:",
        ]
        by_kind = Counter(fault.kind for fault in self.faults)
        by_dependency = Counter(fault.dependency for fault in self.faults)
        lines += [f"  {kind:<12} {count:>4}" for kind, count in sorted(by_kind.items())] or [
            "  (none: raise CHAOS_PROBABILITY or CHAOS_DURATION)"
        ]
        lines.append(
            "  on: " + ", ".join(f"{name} {count}" for name, count in sorted(by_dependency.items()))
        )
        lines += ["", f"{'route':<24} {'requests':>8}  outcomes"]
        for route, sent in sorted(self.requests.items()):
            classes = sorted(
                (outcome, count)
                for (name, outcome), count in self.outcomes.items()
                if name == route
            )
            shown = ", ".join(f"{outcome} {count}" for outcome, count in classes)
            lines.append(f"{route:<24} {sent:>8}  {shown}")
        lines += ["", "invariants:"]
        lines += [
            f"  {'PASS' if result.passed else 'FAIL'}  {result.name}: {result.detail}"
            for result in self.invariants
        ]
        lines.append(f"verdict: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.config.seed,
            "probability": self.config.probability,
            "duration_s": self.config.duration_s,
            "faults": [
                {
                    "start_s": fault.start_s,
                    "duration_s": fault.duration_s,
                    "dependency": fault.dependency,
                    "kind": fault.kind,
                    "stream": fault.stream,
                    "attributes": dict(fault.attributes),
                }
                for fault in self.faults
            ],
            "requests": dict(self.requests),
            "outcomes": [
                {"route": route, "outcome": outcome, "count": count}
                for (route, outcome), count in sorted(self.outcomes.items())
            ],
            "invariants": [
                {"name": result.name, "passed": result.passed, "detail": result.detail}
                for result in self.invariants
            ],
            "passed": self.passed,
        }
