"""The perf tier's files: a run's summary.json, a profile's baseline (perf/baselines/<profile>.json:
its rounds, the machine and commit they were taken on), and the verdict reports the quality
gates read. Readers refuse a malformed file in one line naming it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from testkit import report_files
from testkit.perf.calibration import Calibration
from testkit.perf.figures import WindowFigures
from testkit.perf.profiles import Profile
from testkit.usage import UsageError

GATE_REPORT = report_files.PERFORMANCE_GATE
AB_REPORT = report_files.PERF_AB
MIN_BASELINE_ROUNDS = 3


def load_parameters(
    profile: Profile, round_s: float, rounds: int, scale: str | None
) -> dict[str, Any]:
    return {
        "users": profile.users,
        "spawn_rate": profile.spawn_rate,
        "round_s": round_s,
        "warmup_s": profile.warmup_s,
        "rounds": rounds,
        "scale": scale,
    }


def summary(
    profile: Profile, whole: WindowFigures, rounds: Sequence[WindowFigures], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "duration_s": round(whole.duration_s, 3),
        "users": profile.users,
        "total": whole.total.as_dict(),
        "endpoints": {name: f.as_dict() for name, f in whole.endpoints.items()},
        "rounds": [r.as_dict() for r in rounds],
        "metadata": meta,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Baseline:
    """A recorded baseline: its rounds, and where, how and on what code they were taken."""

    path: Path
    rounds: tuple[WindowFigures, ...]
    commit: str | None
    dirty: bool
    machine: dict[str, Any]
    calibrations: tuple[Calibration, ...]
    load: dict[str, Any]

    def profile(self, profile: Profile) -> Profile:
        """``profile`` with the load the baseline was recorded under (the gate repeats it)."""
        return replace(
            profile,
            users=int(self.load.get("users", profile.users)),
            spawn_rate=float(self.load.get("spawn_rate", profile.spawn_rate)),
            warmup_s=float(self.load.get("warmup_s", profile.warmup_s)),
        )

    @property
    def round_s(self) -> float | None:
        value = self.load.get("round_s")
        return None if value is None else float(value)


def read_baseline(path: Path) -> Baseline:
    if not path.is_file():
        raise UsageError(
            f"no baseline at {path}: record one with `make perf-baseline PROFILE={path.stem}`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = data.get("metadata") or {}
        baseline = Baseline(
            path=path,
            rounds=tuple(WindowFigures.from_dict(r) for r in data["rounds"]),
            commit=meta.get("commit"),
            dirty=bool(meta.get("dirty")),
            machine=dict(meta.get("machine") or {}),
            calibrations=tuple(Calibration.from_dict(c) for c in meta.get("calibrations") or []),
            load=dict(meta.get("load") or {}),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"{path} is not a perf baseline ({error!r}); re-record it") from error
    if len(baseline.rounds) < MIN_BASELINE_ROUNDS:
        raise UsageError(
            f"{path} has {len(baseline.rounds)} rounds; the gate needs at least "
            f"{MIN_BASELINE_ROUNDS}"
        )
    return baseline
