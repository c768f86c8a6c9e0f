"""Where and on what code a measurement was taken: a baseline is only comparable on the same
machine under the same load, so its file says which machine (calibration.fingerprint), how busy
it was (one calibration per round) and which commit it measured."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testkit.git import head_state
from testkit.perf.calibration import Calibration, fingerprint


def machine() -> dict[str, Any]:
    load: list[float] | None
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        **fingerprint(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": load,
    }


def run_metadata(
    directory: Path, *, calibrations: Sequence[Calibration] = (), **extra: Any
) -> dict[str, Any]:
    commit, dirty = head_state(directory)
    return {
        "commit": commit,
        "dirty": dirty,
        "machine": machine(),
        "calibrations": [c.as_dict() for c in calibrations],
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }
