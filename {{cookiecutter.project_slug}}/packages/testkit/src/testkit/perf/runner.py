"""Running locust: one headless run (optionally distributed), or one measured round.

locust runs as its own processes (it monkey-patches the interpreter with gevent): a local
runner, or with ``workers=N`` a master plus N worker processes. The locustfile installs
testkit's recorder, which writes every request's latency to PERF_SAMPLES_FILE; the figures
are computed from that file, never from locust's rounded statistics.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from testkit.perf.figures import Sample, WindowFigures, read_samples, window_figures
from testkit.perf.profiles import Profile
from testkit.perf.recorder import SAMPLES_FILE_ENV, STOP_AFTER_ENV
from testkit.server import free_port, log_tail, stop_process

ADMIN_TOKEN_ENV = "PERF_ADMIN_TOKEN"
PROFILE_ENV = "PERF_PROFILE"
SETUP_CACHE_ENV = "PERF_SETUP_CACHE"
# Time locust may take to start (import gevent, set up tenants) and stop, beyond the run time.
STARTUP_ALLOWANCE_S = 120.0
# Below this many requests in a round's measured window the round is run again.
MIN_ROUND_REQUESTS = 10
ROUND_ATTEMPTS = 3
SAFETY_RUN_TIME_S = 60.0


class LoadError(RuntimeError):
    """locust failed to run; the message quotes its log."""


@dataclass(frozen=True, slots=True)
class LoadRun:
    """What to run: the locustfile, the shape of the load, against which host."""

    locustfile: Path
    profile: Profile
    host: str
    admin_token: str
    run_time_s: float
    workers: int = 0
    html: bool = False
    csv: bool = False
    # A directory the locustfile may keep its set-up (tenants) in between rounds of one server.
    setup_cache: Path | None = None
    # A measured round (local runner): run_time_s counts from the first request, and the
    # recorder stops locust then; locust's own --run-time is only a safety net.
    from_first_request: bool = False

    @property
    def stop_after_s(self) -> float | None:
        return self.run_time_s if self.from_first_request and self.workers == 0 else None


def locust_command(
    run: LoadRun, out_dir: Path, *, role: str = "local", master_port: int | None = None
) -> list[str]:
    """The locust command line of one process (role: local, master or worker)."""
    base = [sys.executable, "-m", "locust", "-f", str(run.locustfile)]
    if role == "worker":
        return [
            *base,
            "--worker",
            "--host",
            run.host,
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(master_port),
            "--loglevel",
            "WARNING",
        ]
    command = [
        *base,
        "--headless",
        "--host",
        run.host,
        "--users",
        str(run.profile.users),
        "--spawn-rate",
        f"{run.profile.spawn_rate:g}",
        "--run-time",
        f"{max(1, round(run.run_time_s + (SAFETY_RUN_TIME_S if run.stop_after_s else 0)))}s",
        "--stop-timeout",
        "5",
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    if run.csv:
        command += ["--csv", str(out_dir / "locust")]
    if run.html:
        command += ["--html", str(out_dir / "report.html")]
    if role == "master":
        command += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(run.workers),
        ]
    return command


def run_load(
    run: LoadRun, out_dir: Path, *, echo: bool = False, extra_env: Mapping[str, str] | None = None
) -> list[Sample]:
    """Run locust once; returns every recorded request. ``echo`` shows locust's own output."""
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / "samples.csv"
    samples_path.unlink(missing_ok=True)
    log_path = out_dir / "locust.log"
    env = {
        **os.environ,
        **(extra_env or {}),
        SAMPLES_FILE_ENV: str(samples_path),
        ADMIN_TOKEN_ENV: run.admin_token,
        PROFILE_ENV: run.profile.name,
        SETUP_CACHE_ENV: str(run.setup_cache) if run.setup_cache else "",
        STOP_AFTER_ENV: "" if run.stop_after_s is None else f"{run.stop_after_s:g}",
        "PYTHONUNBUFFERED": "1",
    }
    distributed = run.workers > 0
    port = free_port() if distributed else None
    main_command = locust_command(
        run, out_dir, role="master" if distributed else "local", master_port=port
    )
    if echo:
        print("perf: " + shlex.join(main_command), flush=True)
    timeout = run.run_time_s + STARTUP_ALLOWANCE_S
    with log_path.open("wb") as log:
        output = None if echo else log
        main = subprocess.Popen(
            main_command, env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        workers = [
            subprocess.Popen(
                locust_command(run, out_dir, role="worker", master_port=port),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            for _ in range(run.workers)
        ]
        try:
            code = main.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = stop_process(main)
            raise LoadError(
                f"locust did not finish within {timeout:.0f}s; last lines of {log_path}:\n"
                f"{log_tail(log_path)}"
            ) from None
        finally:
            deadline = time.monotonic() + 15
            for worker in workers:
                try:
                    worker.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    stop_process(worker)
    if code != 0 or not samples_path.is_file():
        raise LoadError(
            f"locust exited with code {code}"
            + ("" if samples_path.is_file() else " without writing samples")
            + f"; last lines of {log_path}:\n{log_tail(log_path)}"
        )
    return read_samples(samples_path)


@dataclass(frozen=True, slots=True)
class Round:
    """One measured round: its requests and the figures of its measured window."""

    samples: list[Sample]
    figures: WindowFigures
    start_s: float
    end_s: float
    # Wall-clock time (epoch seconds) the round's locust started and ended.
    started_at: float
    ended_at: float

    @property
    def wall_clock(self) -> list[float]:
        return [round(self.started_at, 3), round(self.ended_at, 3)]


def measure_round(
    run: LoadRun,
    out_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    *,
    attempts: int = ROUND_ATTEMPTS,
) -> Round:
    """One round: the load for ``run_time_s``, figures of what started after the warm-up.

    A round whose window holds under MIN_ROUND_REQUESTS requests (the service or the machine
    stalled) is not evidence either way: it is run again, up to ``attempts`` times in all.
    """
    warmup = min(run.profile.warmup_s, run.run_time_s / 2)
    requests = 0
    for attempt in range(1, attempts + 1):
        started_at = time.time()
        samples = run_load(run, out_dir, extra_env=extra_env)
        figures = window_figures(samples, start_s=warmup, end_s=run.run_time_s)
        requests = figures.total.requests
        if requests >= MIN_ROUND_REQUESTS:
            return Round(samples, figures, warmup, run.run_time_s, started_at, time.time())
        if attempt < attempts:
            print(
                f"perf: {out_dir.name}: only {requests} requests in the measured window "
                "(the service or the machine stalled); running it again",
                flush=True,
            )
    raise LoadError(
        f"{out_dir.name}: only {requests} requests in the measured window after {attempts} "
        f"attempts (fewer than {MIN_ROUND_REQUESTS}); see {out_dir / 'locust.log'} and the "
        "server log beside it"
    )


def pooled_figures(rounds: list[Round]) -> WindowFigures:
    """The figures of several rounds' windows taken together (a summary's total/endpoints)."""
    shifted: list[Sample] = []
    offset = 0.0
    for measured in rounds:
        span = measured.end_s - measured.start_s
        shifted += [
            Sample(s.endpoint, s.start_s - measured.start_s + offset, s.response_ms, s.failed)
            for s in measured.samples
            if measured.start_s <= s.start_s < measured.end_s
        ]
        offset += span
    return window_figures(shifted, start_s=0.0, end_s=offset)
