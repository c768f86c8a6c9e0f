"""Where and on what code a measurement was taken: a baseline is only comparable on the same
machine, so its file says which machine and which commit it came from."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def git_commit(directory: Path) -> tuple[str | None, bool]:
    """(HEAD's commit, whether the working tree has changes); (None, False) outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, False
    return head, bool(status.strip())


def machine() -> dict[str, Any]:
    load: list[float] | None
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average": load,
    }


def run_metadata(directory: Path, **extra: Any) -> dict[str, Any]:
    commit, dirty = git_commit(directory)
    return {
        "commit": commit,
        "dirty": dirty,
        "machine": machine(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }
