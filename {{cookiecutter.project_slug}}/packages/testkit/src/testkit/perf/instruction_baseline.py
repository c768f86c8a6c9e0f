"""perf/baselines/instructions.json: what `make perf-instructions-baseline` records and the
instruction gate reads when no BASE is given. Instructions per call by benchmark, and the
environment they were counted in: counts from another interpreter, C library or valgrind are
not comparable (instruction_gate.environment_differences says what differs)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from testkit.perf.callgrind import Counted
from testkit.perf.instruction_gate import Environment
from testkit.usage import UsageError

FORMAT = 1


class BaselineError(UsageError):
    """No baseline, or not one; the message names the file and how to record one."""


@dataclass(frozen=True, slots=True)
class Recorded:
    per_call: dict[str, float]
    environment: Environment
    iterations: int
    commit: str | None


def write_baseline(
    path: Path,
    counted: Mapping[str, Counted],
    *,
    environment: Environment,
    iterations: int,
    repeats: int,
    commit: str | None,
    dirty: bool,
) -> None:
    data = {
        "format": FORMAT,
        "environment": environment.as_dict(),
        "iterations": iterations,
        "repeats": repeats,
        "commit": commit,
        "dirty": dirty,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "benchmarks": {name: c.as_dict() for name, c in counted.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> Recorded:
    if not path.is_file():
        raise BaselineError(
            f"no baseline at {path}: record one with `make perf-instructions-baseline`, or "
            "compare with a revision: `make perf-instructions BASE=<ref>`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        per_call = {
            str(name): float(row["instructions_per_call"])
            for name, row in data["benchmarks"].items()
        }
        return Recorded(
            per_call,
            Environment.from_dict(data["environment"]),
            int(data["iterations"]),
            data.get("commit"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BaselineError(
            f"{path} is not an instruction baseline ({error!r}); re-record it with "
            "`make perf-instructions-baseline`"
        ) from error
