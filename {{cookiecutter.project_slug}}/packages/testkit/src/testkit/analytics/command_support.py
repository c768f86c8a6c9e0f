"""What the analytics commands share: the history and quarantine they read (named by
TESTKIT_HISTORY and TESTKIT_QUARANTINE, defaults .testkit/history.db and tests/quarantine.toml),
one-line user errors (UsageError, exit 2) and the plain-text table they print."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from testkit import options, report_files
from testkit.analytics.history import HistoryError, HistoryStore, Run, open_history
from testkit.analytics.quarantine import DEFAULT_PATH as QUARANTINE_PATH
from testkit.analytics.quarantine import QuarantineEntry, QuarantineError, load_quarantine
from testkit.usage import UsageError


def history_path(rootdir: Path) -> Path:
    raw = options.env_setting(options.HISTORY)
    if raw is not None and raw.lower() in {"off", "0", "false", "no", "none"}:
        raise UsageError("TESTKIT_HISTORY is off: there is no history to read")
    path = Path(raw) if raw else report_files.HISTORY
    return path if path.is_absolute() else rootdir / path


def open_store(rootdir: Path, *, create: bool = False) -> HistoryStore:
    try:
        return open_history(history_path(rootdir), create=create)
    except HistoryError as error:
        raise UsageError(str(error)) from None


def read_quarantine(rootdir: Path) -> tuple[QuarantineEntry, ...]:
    raw = options.env_setting(options.QUARANTINE)
    try:
        return load_quarantine(rootdir / (raw or QUARANTINE_PATH))
    except QuarantineError as error:
        raise UsageError(str(error)) from None


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def status(run: Run) -> str:
    if run.exit_status is None:
        return "unfinished"
    return "ok" if run.exit_status == 0 else f"exit {run.exit_status}"


def unknown_run(store: HistoryStore, run_id: str) -> UsageError:
    recent = store.recent_runs(10)
    listing = ", ".join(run.run_id for run in recent) or "none recorded"
    return UsageError(f"no run {run_id!r} in {store.path}; recent runs: {listing}")


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
