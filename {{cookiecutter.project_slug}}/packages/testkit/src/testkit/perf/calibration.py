"""Is this machine, now, the machine the baseline was recorded on? A fingerprint and a short
calibration workload, recorded with every baseline and measured again by every gate run.

A latency comparison between rounds taken at different times only says something about the
code when the machine is the same and equally busy. The fingerprint names the machine (host,
CPU model, usable cores, architecture, Python). The calibration runs a fixed pure-Python loop in
one process per usable core at once and reads two things from it:

- ``contention``: wall time / CPU time of the loop. 1.0 when every process has a core to
  itself; a CPU hog on one of two cores makes it about 1.5 (three runnable processes share two
  cores). Independent of how fast the CPU is.
- ``cpu_s``: the CPU seconds the loop took: how fast a core is (frequency, steal, model).

:func:`compare_machines` is the pure decision: comparable, or not and why.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

# The loop: about 0.2-0.4 s of one core on a current x86 server.
LOOP_ITERATIONS = 1_500_000
_LOOP = (
    "import time\n"
    "wall, cpu = time.perf_counter(), time.process_time()\n"
    "total = 0\n"
    f"for i in range({LOOP_ITERATIONS}):\n"
    "    total += i * i % 7\n"
    "print(time.perf_counter() - wall, time.process_time() - cpu)\n"
)
# Beyond these the two machine states are not comparable. Idle, this machine's contention reads
# 1.00-1.06 and a core's speed varies by up to a quarter between calibrations (a shared VM);
# a hog on one of two cores reads 1.3-1.65 (docs/benchmarks.md).
CONTENTION_TOLERANCE = 0.10
SPEED_TOLERANCE = 0.25
FINGERPRINT_KEYS = ("hostname", "cpu_model", "usable_cpus", "machine", "python")


@dataclass(frozen=True, slots=True)
class Calibration:
    contention: float
    cpu_s: float

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 4) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(contention=float(data["contention"]), cpu_s=float(data["cpu_s"]))


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint() -> dict[str, Any]:
    """What identifies this machine for a comparison of timings."""
    return {
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "usable_cpus": usable_cpus(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
    }


def calibrate() -> Calibration:
    """One calibration: the loop in one process per usable core, all at once."""
    processes = [
        subprocess.Popen([sys.executable, "-S", "-c", _LOOP], stdout=subprocess.PIPE, text=True)
        for _ in range(usable_cpus())
    ]
    timings = []
    for process in processes:
        output, _ = process.communicate()
        wall, cpu = (float(word) for word in output.split())
        timings.append((wall, max(cpu, 1e-6)))
    return Calibration(
        contention=statistics.median(wall / cpu for wall, cpu in timings),
        cpu_s=statistics.median(cpu for _, cpu in timings),
    )


@dataclass(frozen=True, slots=True)
class MachineCheck:
    """Whether rounds taken now can be compared with the recorded ones, and why not."""

    comparable: bool
    reasons: tuple[str, ...]
    recorded: Calibration | None
    current: Calibration | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "comparable": self.comparable,
            "reasons": list(self.reasons),
            "recorded": None if self.recorded is None else self.recorded.as_dict(),
            "current": None if self.current is None else self.current.as_dict(),
        }


def typical(calibrations: Sequence[Calibration]) -> Calibration | None:
    """The median contention and speed of several calibrations."""
    if not calibrations:
        return None
    return Calibration(
        contention=statistics.median(c.contention for c in calibrations),
        cpu_s=statistics.median(c.cpu_s for c in calibrations),
    )


def compare_machines(
    recorded_fingerprint: Mapping[str, Any] | None,
    recorded: Sequence[Calibration],
    current_fingerprint: Mapping[str, Any],
    current: Sequence[Calibration],
    *,
    contention_tolerance: float = CONTENTION_TOLERANCE,
    speed_tolerance: float = SPEED_TOLERANCE,
) -> MachineCheck:
    """Comparable only on the same machine, equally busy, with a core as fast, within the
    tolerances; otherwise every difference is named."""
    before, now = typical(recorded), typical(current)
    reasons: list[str] = []
    if not recorded_fingerprint or before is None:
        reasons.append("the baseline has no machine fingerprint and calibration; re-record it")
    else:
        reasons += [
            f"{key} {recorded_fingerprint.get(key)!r} -> {current_fingerprint.get(key)!r}"
            for key in FINGERPRINT_KEYS
            if recorded_fingerprint.get(key) != current_fingerprint.get(key)
        ]
    if before is not None and now is not None:
        if abs(math.log(now.contention / before.contention)) > math.log1p(contention_tolerance):
            reasons.append(
                f"CPU contention {before.contention:.2f} -> {now.contention:.2f} "
                f"(wall/CPU time of the calibration; tolerance {contention_tolerance:.0%})"
            )
        if abs(math.log(now.cpu_s / before.cpu_s)) > math.log1p(speed_tolerance):
            reasons.append(
                f"core speed {before.cpu_s:.3f} s -> {now.cpu_s:.3f} s for the calibration "
                f"loop (tolerance {speed_tolerance:.0%})"
            )
    return MachineCheck(not reasons, tuple(reasons), before, now)
