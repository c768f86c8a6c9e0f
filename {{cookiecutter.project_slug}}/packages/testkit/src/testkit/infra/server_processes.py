"""Server processes started from the installed binaries (PostgreSQL, Redis, NATS: the recipes
in testkit.infra.server_recipes say how each kind is built, started and probed).

Both the local-binary source (the session's shared servers) and the chaos tests' killable
servers start their servers here: each is a fresh process on a free loopback port with its own
temporary directory, our direct child in a new session (process group), restartable on the same
port and data dir.

Hand-written on purpose, with subprocess: pytest-postgresql's and pytest-redis's executors
build on mirakuru, whose atexit handler SIGKILLs every process whose ``mirakuru_uuid``
environment variable *contains* the exiting Python's pid as a substring. The variable is
"<pid>:<uuid4>" and pids here wrap at 32768, so any pytest (or other Python that imported
mirakuru) exiting with, say, pid 8856 killed an unrelated session's PostgreSQL marked
"6170:8856e18b-...": the whole suite then failed with "connection refused". Processes started
here carry no such variable, so no mirakuru on the machine can match them.

PostgreSQL runs as ``postgres`` in the foreground, not through ``pg_ctl``, so the process we hold
is the postmaster: ``kill()`` reaches it and its backends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from testkit.infra.protocol import Service, SourceStartError
from testkit.infra.readiness import wait_until_ready

ServerKind = Service

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# The first start picks a free port; another process may grab it before the server binds.
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 15


class ServerUnavailable(RuntimeError):
    """The binary is missing or cannot run here; the message says what to install."""


def free_port() -> int:
    """A port the kernel just handed out; start() retries if another process grabs it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class KillableServer:
    """One server process, restartable on the same port and data dir after ``kill()``.

    What differs by kind comes from its recipe (testkit.infra.server_recipes): ``command_for(port)``
    builds the command line, ``ready`` probes the url until it answers, ``url_for(port)`` names
    it, ``stop_signal`` shuts it down cleanly.
    """

    kind: str  # a ServerKind, or another server started the same way (testkit.monitoring)
    workdir: Path
    command_for: Callable[[int], list[str]]
    ready: Callable[[str, int], Callable[[], None]]
    url_for: Callable[[int], str]
    stop_signal: signal.Signals
    run_as: str | None = None
    port: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.url_for(self.port)

    @property
    def binary(self) -> str:
        return self.command_for(self.port)[0]

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.kind}.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def start(self) -> None:
        """Start on ``port`` (a free one the first time); returns once the server answers."""
        if self.running:
            raise RuntimeError(f"{self.kind} on port {self.port} is already running")
        if self.port:
            self._launch(self.port)
            return
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._launch(free_port())
            except SourceStartError:
                if attempt == PORT_ATTEMPTS or "in use" not in self._log_tail().lower():
                    raise
            else:
                return

    def kill(self) -> None:
        """SIGKILL the server and all its child processes at once (a crash: no shutdown at all).

        The children are named one by one: PostgreSQL's backends leave the postmaster's
        process group (each calls setsid), so killpg alone would leave them running.
        """
        process = self._process
        if process is None or process.poll() is not None:
            raise RuntimeError(f"{self.kind} on port {self.port} is not running")
        children = child_pids(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        process.wait()
        # A signalled process dies asynchronously; return once none of them runs any more.
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(_alive(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut down cleanly (SIGKILL after STOP_TIMEOUT seconds); the data dir is kept."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, self.stop_signal)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self) -> None:
        """Start again on the same port and data dir after kill() or stop()."""
        self.start()

    def remove(self) -> None:
        """Stop, then delete the data dir: nothing of this server is left."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _launch(self, port: int) -> None:
        command = self.command_for(port)
        with self.log_path.open("ab") as log:
            # A new session: kill() signals the whole group (PostgreSQL's backends too).
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
                user=self.run_as,
            )
        self.port = port
        try:
            wait_until_ready(
                _unless_exited(self._process, self.ready(self.url, port)),
                what=f"{self.kind} on port {port}",
                timeout=STARTUP_TIMEOUT,
            )
        except SourceStartError as error:
            self.stop()
            tail = self._log_tail()
            raise SourceStartError(f"{error}; last lines of {self.log_path}:\n{tail}") from None

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])


def _alive(pid: int) -> bool:
    """Running: not gone and not a zombie (reparented children may never be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def child_pids(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """The pids whose parent is ``pid``, read from /proc (Linux); [] where there is none."""
    children = []
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name (2nd field) is in parentheses and may hold spaces: split after it.
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def _unless_exited(
    process: subprocess.Popen[bytes], check: Callable[[], None]
) -> Callable[[], None]:
    def checked() -> None:
        code = process.poll()
        if code is not None:
            # Not "not ready yet": waiting longer cannot help a process that has gone.
            raise SourceStartError(f"exited with code {code}")
        check()

    return checked
