"""Run an ASGI app as a real uvicorn process on a free loopback port, for e2e and contract tests.

In-process ASGI clients skip the parts that break in production: the server's HTTP parsing,
the lifespan, signal handling, worker start-up with the real environment. So the e2e tiers
start ``uvicorn --factory <app>`` as a subprocess, wait until a health path answers 200, and
stop it with SIGTERM (SIGKILL if it does not exit in time). Its output goes to a log file that
start-up errors quote and tests may read (e.g. to prove secrets never reach the log).

Hand-written on purpose with the standard library, not mirakuru's HTTPExecutor: mirakuru's exit
handler can kill unrelated processes (testkit.infra.server_processes says how).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_HEALTH_PATH = "/healthz"
DEFAULT_STARTUP_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 10.0
# The port is probed free, then handed to uvicorn; another process can take it in between.
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 20
_POLL_INTERVAL = 0.1
_ADDRESS_IN_USE = "address already in use"


class ServerStartError(RuntimeError):
    """The server exited or never answered its health path; the message quotes its log."""


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A started uvicorn process: where it answers, its pid, and where its output goes."""

    base_url: str
    pid: int
    log_path: Path
    port: int

    def log_text(self) -> str:
        """Everything the server wrote so far (stdout and stderr, interleaved)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port the kernel just handed out on ``host`` (released again for the server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def uvicorn_command(
    app: str,
    *,
    host: str,
    port: int,
    python: str = sys.executable,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line: ``python -m uvicorn --factory <app>`` (the interpreter of this run)."""
    return [
        python,
        "-m",
        "uvicorn",
        "--factory",
        app,
        "--host",
        host,
        "--port",
        str(port),
        *extra_args,
    ]


def server_environment(
    env: Mapping[str, str],
    *,
    base: Mapping[str, str] | None = None,
    drop_prefixes: Sequence[str] = (),
) -> dict[str, str]:
    """``base`` (default: this process's environment) without ``drop_prefixes``, then ``env``.

    Dropping a prefix (e.g. ``APP_``) keeps the developer's shell from steering the server.
    """
    inherited = os.environ if base is None else base
    merged = {
        name: value
        for name, value in inherited.items()
        if not any(name.startswith(prefix) for prefix in drop_prefixes)
    }
    merged.update(env)
    # Unbuffered, so the log file is complete at the moment a test or an error reads it.
    merged.setdefault("PYTHONUNBUFFERED", "1")
    return merged


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ("" when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _health_error(url: str) -> str | None:
    """None when ``url`` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            status: int = response.status
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))
    return None if status == 200 else f"HTTP {status}"


def stop_process(process: subprocess.Popen[bytes], timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
    """SIGTERM (uvicorn's graceful shutdown, which runs the lifespan end), SIGKILL after
    ``timeout`` seconds; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def _wait_until_healthy(
    process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no attempt yet"
    while True:
        code = process.poll()
        if code is not None:
            raise ServerStartError(
                f"server exited with code {code} before {url} answered; "
                f"last lines of {log_path}:\n{log_tail(log_path)}"
            )
        error = _health_error(url)
        if error is None:
            return
        last_error = error
        if time.monotonic() >= deadline:
            raise ServerStartError(
                f"{url} did not answer 200 within {timeout:.0f}s (last: {last_error}); "
                f"last lines of {log_path}:\n{log_tail(log_path)}"
            )
        time.sleep(_POLL_INTERVAL)


def _start(
    command: list[str],
    *,
    environment: Mapping[str, str],
    log_path: Path,
    cwd: Path | None,
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        # The child keeps its own copy of the descriptor; ours can close right away.
        return subprocess.Popen(
            command,
            env=dict(environment),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def run_uvicorn(
    app: str,
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    drop_env_prefixes: Sequence[str] = (),
    health_path: str = DEFAULT_HEALTH_PATH,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    python: str = sys.executable,
    extra_args: Sequence[str] = (),
    cwd: Path | None = None,
) -> Iterator[RunningServer]:
    """Start ``uvicorn --factory app`` and yield it once ``health_path`` answers 200.

    ``app`` is ``module:factory``. ``port=None`` picks a free one (retried when another process
    takes it first). Raises ServerStartError, quoting the log, if the server exits or stays
    unhealthy for ``startup_timeout`` seconds. Stopped on exit, whatever happened in the block.
    """
    if not health_path.startswith("/"):
        raise ValueError(f"health_path must start with '/', got {health_path!r}")
    environment = server_environment(env or {}, drop_prefixes=drop_env_prefixes)
    attempts = 1 if port is not None else PORT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None else free_port(host)
        base_url = f"http://{host}:{chosen}"
        command = uvicorn_command(app, host=host, port=chosen, python=python, extra_args=extra_args)
        process = _start(command, environment=environment, log_path=log_path, cwd=cwd)
        try:
            _wait_until_healthy(process, base_url + health_path, log_path, startup_timeout)
        except ServerStartError:
            stop_process(process, stop_timeout)
            lost_port_race = _ADDRESS_IN_USE in log_tail(log_path).lower()
            if lost_port_race and attempt < attempts:
                continue
            raise
        except BaseException:
            stop_process(process, stop_timeout)
            raise
        break
    try:
        yield RunningServer(base_url=base_url, pid=process.pid, log_path=log_path, port=chosen)
    finally:
        stop_process(process, stop_timeout)
