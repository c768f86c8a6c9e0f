"""The history recorder: a pytest plugin writing every run and test result to the history file.

Registered (as "testkit-history") in the controlling process only: under xdist the workers
forward their reports and the controller alone writes, so rows are neither lost nor doubled.
Results are committed in batches (every BATCH_SIZE results or BATCH_SECONDS), so a run killed
mid-way loses at most its last batch; the run row itself is committed first, so a killed run
still shows (with no exit status). Disable with TESTKIT_HISTORY=off or `-p no:testkit-history`.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testkit.analytics.fingerprint import SourceHashes, source_hashes
from testkit.analytics.history import HistoryError, HistoryStore, Run, open_history

if TYPE_CHECKING:
    from testkit.analytics.test_code import TestCodes

PLUGIN_NAME = "testkit-history"
BATCH_SIZE = 500
BATCH_SECONDS = 1.0
QUARANTINE_PROPERTY = "testkit_quarantined"
# The run id a caller can impose (flakiness reruns, CI job ids); otherwise one is made.
RUN_ID_ENV = "TESTKIT_RUN_ID"
SELECTION_KEY = pytest.StashKey[list[str]]()
MAX_SHOWN_ARGS = 5  # the selection string stays short: a few paths, then a count


def new_run_id(now: float | None = None) -> str:
    """Sortable and short enough to type: 20261121-160501-3fa2."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(2)}"


def note_selection(config: pytest.Config, reason: str) -> None:
    """Add why tests were selected (e.g. impact selection) to the run's selection string."""
    config.stash.setdefault(SELECTION_KEY, []).append(reason)


def describe_selection(config: pytest.Config) -> str:
    """A short account of what chose this run's tests: paths, -k, -m, last-failed..."""
    parts: list[str] = []
    positional = [str(argument) for argument in config.args]
    from_files = [str(a) for a in config.invocation_params.args if str(a).startswith("@")]
    if from_files:  # replay and flakiness reruns pass node ids through an @file
        parts.append(f"{' '.join(from_files)} ({len(positional)} ids)")
    elif config.args_source is pytest.Config.ArgsSource.ARGS:
        shown = positional[:MAX_SHOWN_ARGS]
        more = len(positional) - len(shown)
        parts.append(" ".join(shown) + (f" (+{more} more)" if more else "") if shown else ".")
    else:
        parts.append(
            "testpaths" if config.args_source is pytest.Config.ArgsSource.TESTPATHS else "."
        )
    keyword = config.getoption("keyword", default="")
    if keyword:
        parts.append(f"-k {keyword!r}")
    markexpr = config.getoption("markexpr", default="")
    if markexpr:
        parts.append(f"-m {markexpr!r}")
    for option, label in (("lf", "--lf"), ("failedfirst", "--ff"), ("stepwise", "--sw")):
        if config.getoption(option, default=False):
            parts.append(label)
    if SELECTION_KEY in config.stash:
        notes: list[str] = config.stash[SELECTION_KEY]
        parts.extend(notes)
    return " ".join(parts)


def _workers(config: pytest.Config) -> int:
    if config.getoption("dist", default="no") == "no":
        return 0
    count = config.getoption("numprocesses", default=None)
    return count if isinstance(count, int) else 0


@dataclass(slots=True)
class _Pending:
    """One test's phases as they arrive."""

    outcome: str = "passed"
    quarantined: int = 0
    setup_s: float | None = None
    call_s: float | None = None
    teardown_s: float | None = None
    worker: str = "master"
    discarded: bool = False  # an attempt pytest-rerunfailures retries: not the result


def _phase_outcome(report: pytest.TestReport) -> str | None:
    """The test's outcome as far as this phase decides it; None when the phase passed quietly."""
    outcome = report.outcome
    failed = outcome in {"failed", "quarantined"}
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return (
                "xpassed"
                if outcome == "passed"
                else "xfailed"
                if outcome == "skipped"
                else "failed"
            )
        if failed:
            return "failed"
        return "skipped" if outcome == "skipped" else None
    if failed:
        return "error"
    if outcome == "skipped":
        return "xfailed" if hasattr(report, "wasxfail") else "skipped"
    return None


class HistoryRecorder:
    """Collects the reports of one session and writes them in batches."""

    def __init__(self, store: HistoryStore, run: Run, *, slow_floor_s: float = 0.05) -> None:
        self.store = store
        self.run = run
        # Call durations of passing tests slower than this: the duration-regression candidates.
        self.slow_calls: dict[str, float] = {}
        self._slow_floor_s = slow_floor_s
        self._pending: dict[str, _Pending] = {}
        self._batch: list[tuple[Any, ...]] = []
        self._position = 0
        self._last_flush = time.monotonic()
        self._started = False
        self._code_source: tuple[Path, SourceHashes, Path] | None = None  # rootdir, hashes, map
        self._codes: TestCodes | None = None
        self._codes_loaded = False

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from testkit.state import STATE_KEY

        state = session.config.stash.get(STATE_KEY, None)
        if state is not None:
            # The seed is settled now (pytest-randomly's --randomly-seed=last is only known here).
            seed: int | None = state.seed.seed
            mode = state.mode.name
        else:
            seed, mode = None, "MOCK"
        self.run = Run(
            run_id=self.run.run_id,
            started_at=time.time(),
            finished_at=None,
            seed=seed,
            mode=mode,
            selection=describe_selection(session.config),
            fingerprint=self._source_hashes(session.config).fingerprint,
            args=self.run.args,
            workers=self.run.workers,
            exit_status=None,
        )
        try:
            self.store.start_run(self.run)
        except HistoryError as error:
            raise pytest.UsageError(str(error)) from None
        self._started = True

    def _source_hashes(self, config: pytest.Config) -> SourceHashes:
        from testkit.impact.plugin import map_path

        hashes = source_hashes(config.rootpath)
        self._code_source = (config.rootpath, hashes, map_path(config))
        return hashes

    def _test_codes(self) -> TestCodes | None:
        """Each test's own code (testkit.analytics.test_code), loaded at the first write."""
        if not self._codes_loaded and self._code_source is not None:
            from testkit.analytics.test_code import load_test_codes

            self._codes = load_test_codes(*self._code_source)
        self._codes_loaded = True
        return self._codes

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        selection = describe_selection(session.config)
        if self._started and selection != self.run.selection:
            self.store.set_selection(self.run_id, selection)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        pending = self._pending.get(nodeid)
        if pending is None or report.when == "setup":
            pending = self._pending[nodeid] = _Pending()
            worker = getattr(report, "worker_id", None)
            if worker is not None:
                pending.worker = worker
        outcome: str = report.outcome
        if outcome == "rerun" or pending.discarded:
            # pytest-rerunfailures retries this test: only the final attempt is its result.
            pending.discarded = True
            if report.when == "teardown":
                del self._pending[nodeid]
            return
        when = report.when
        if when == "call":
            pending.call_s = report.duration
        elif when == "setup":
            pending.setup_s = report.duration
        else:
            pending.teardown_s = report.duration
        if outcome != "passed" or hasattr(report, "wasxfail"):
            phase_outcome = _phase_outcome(report)
            # A teardown error after a failed call leaves the test "failed".
            if phase_outcome is not None and pending.outcome in {"passed", "skipped", "xfailed"}:
                pending.outcome = phase_outcome
        if report.user_properties and any(
            name == QUARANTINE_PROPERTY for name, _ in report.user_properties
        ):
            pending.quarantined = 1
        if when == "teardown":
            del self._pending[nodeid]
            self._position += 1
            call_s = pending.call_s
            if call_s is not None and call_s > self._slow_floor_s and pending.outcome == "passed":
                self.slow_calls[nodeid] = call_s
            self._batch.append(
                (
                    self.run.run_id,
                    nodeid,
                    pending.outcome,
                    pending.quarantined,
                    pending.setup_s,
                    pending.call_s,
                    pending.teardown_s,
                    pending.worker,
                    self._position,
                )
            )
            if (
                len(self._batch) >= BATCH_SIZE
                or time.monotonic() - self._last_flush >= BATCH_SECONDS
            ):
                self.flush()

    def flush(self) -> None:
        if self._batch and self._started:
            codes = self._test_codes()
            if codes is not None:
                self._batch = [(*row, codes.code(row[1])) for row in self._batch]
            self.store.add_results(self._batch)
            self._batch = []
        self._last_flush = time.monotonic()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self._started:
            return
        self.flush()
        self.store.finish_run(self.run_id, time.time(), int(session.exitstatus))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.store.close()


def make_recorder(config: pytest.Config, path: Path, run_id: str | None) -> HistoryRecorder:
    """Open the history (HistoryError names a bad file) and prepare this session's run."""
    store = open_history(path, create=True)
    arguments = [str(argument) for argument in config.invocation_params.args]
    placeholder = Run(
        run_id=run_id or new_run_id(),
        started_at=time.time(),
        finished_at=None,
        seed=None,
        mode="MOCK",
        selection="",
        fingerprint="",
        args=json.dumps(arguments),
        workers=_workers(config),
        exit_status=None,
    )
    return HistoryRecorder(store, placeholder)
