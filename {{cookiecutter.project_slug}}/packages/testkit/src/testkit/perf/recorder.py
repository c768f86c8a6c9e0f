"""A locust listener that keeps every request's exact latency and writes them as samples.

Installed by the locustfile (``install_recorder(events)``). Each load-generating process (the
local runner, or every worker) records ``(endpoint, start, latency, failed)`` per request. In a
distributed run workers ship their samples to the master with each stats report and once more
when they stop, before they tell the master they stopped, so the master has them all when its
``test_stop`` fires. The master (or local runner) writes the file named by PERF_SAMPLES_FILE.

Imported only inside locust processes: it imports locust, which monkey-patches with gevent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from testkit.perf.figures import Sample, write_samples

SAMPLES_FILE_ENV = "PERF_SAMPLES_FILE"
# Seconds of load after the first request, then stop (a measured round). Counting from the first
# request, not from locust's start, keeps a round's length exact on a starved machine, where
# locust may need seconds between starting its clock and sending anything.
STOP_AFTER_ENV = "PERF_STOP_AFTER_S"
_MESSAGE = "testkit_samples"
_REPORT_KEY = "testkit_samples"

# (endpoint, absolute start time, latency ms, failed): absolute, so workers need no shared t0.
_Row = tuple[str, float, float, bool]


class SampleRecorder:
    """Collects rows in this process; the master/local process also merges workers' rows."""

    def __init__(self, output: Path | None, stop_after_s: float | None = None) -> None:
        self.output = output
        self.stop_after_s = stop_after_s
        self.rows: list[_Row] = []
        self.started_at: float | None = None
        self.first_request_at: float | None = None

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        started = start_time if start_time is not None else time.time() - response_time / 1000
        self.rows.append(
            (f"{request_type} {name}", started, float(response_time), exception is not None)
        )

    def drain(self) -> list[list[Any]]:
        rows, self.rows = self.rows, []
        return [list(row) for row in rows]

    def merge(self, rows: list[list[Any]]) -> None:
        self.rows.extend((str(r[0]), float(r[1]), float(r[2]), bool(r[3])) for r in rows)

    def write(self) -> int:
        if self.output is None:
            return 0
        # Time zero: the first request for a measured round (its stop counts from there), else
        # the start of the load (test_start, after the locustfile's set-up).
        origin = self.first_request_at if self.stop_after_s else self.started_at
        if origin is None:
            origin = min((row[1] for row in self.rows), default=0.0)
        samples = (
            Sample(endpoint, started - origin, latency, failed)
            for endpoint, started, latency, failed in sorted(self.rows, key=lambda r: r[1])
        )
        return write_samples(self.output, samples)


def install_recorder(events: Any) -> SampleRecorder:
    """Hook the recorder into locust's ``events``; returns it (the locustfile may inspect it)."""
    import gevent
    from locust.runners import WorkerRunner

    state: dict[str, Any] = {}

    raw = os.environ.get(SAMPLES_FILE_ENV, "").strip()
    stop_after = os.environ.get(STOP_AFTER_ENV, "").strip()
    recorder = SampleRecorder(Path(raw) if raw else None, float(stop_after) if stop_after else None)

    @events.init.add_listener  # type: ignore[untyped-decorator,unused-ignore]
    def _on_init(environment: Any, **_: Any) -> None:
        state["environment"] = environment
        runner = environment.runner
        if not isinstance(runner, WorkerRunner):

            def on_message(environment: Any, msg: Any, **_: Any) -> None:
                recorder.merge(msg.data["rows"])

            runner.register_message(_MESSAGE, on_message)

    @events.request.add_listener  # type: ignore[untyped-decorator,unused-ignore]
    def _on_request(**kwargs: Any) -> None:
        recorder.on_request(**kwargs)
        if recorder.first_request_at is None:
            recorder.first_request_at = recorder.rows[-1][1]
            runner = state["environment"].runner if "environment" in state else None
            if (
                recorder.stop_after_s
                and runner is not None
                and not isinstance(runner, WorkerRunner)
            ):
                gevent.spawn_later(recorder.stop_after_s, runner.quit)

    @events.test_start.add_listener  # type: ignore[untyped-decorator,unused-ignore]
    def _on_test_start(environment: Any, **_: Any) -> None:
        if not isinstance(environment.runner, WorkerRunner):
            recorder.rows.clear()
            recorder.started_at = time.time()

    @events.report_to_master.add_listener  # type: ignore[untyped-decorator,unused-ignore]
    def _on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[_REPORT_KEY] = recorder.drain()

    @events.worker_report.add_listener  # type: ignore[untyped-decorator,unused-ignore]
    def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        recorder.merge(data.get(_REPORT_KEY, []))

    @events.test_stop.add_listener  # type: ignore[untyped-decorator,unused-ignore]
    def _on_test_stop(environment: Any, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(_MESSAGE, {"rows": recorder.drain()})
        else:  # local runner, or the master once every worker has reported it stopped
            recorder.write()

    return recorder
