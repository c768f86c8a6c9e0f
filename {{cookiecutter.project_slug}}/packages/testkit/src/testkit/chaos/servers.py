"""Killable servers: PostgreSQL, Redis and NATS of one test's own, which it may SIGKILL and restart.

A chaos scenario must crash a dependency the way production does (OOM killer, node loss:
SIGKILL, no shutdown hook) and bring it back on the same port and data directory, so the
service under test reconnects to "the same" server. The shared servers (5432/6379/4222, or
whatever testkit resolved) are never touched: each server here is a fresh process on a free
loopback port with its own temporary directory, started from the installed binaries.

Why not testkit.infra.local_binary's executors: pytest-postgresql starts PostgreSQL through
``pg_ctl`` (a daemon whose pid we do not hold) and mirakuru stops with SIGTERM. Here every
server is our direct child, started in a new session (process group), so ``kill()`` is
``killpg(SIGKILL)``: the postmaster and all its backends die at once, as in a real crash.
The binary lookup and the "PostgreSQL refuses root" decision are reused from local_binary.

Durability is what a real server would keep after a process crash: PostgreSQL keeps
``synchronous_commit=on`` (fsync stays off: page-cache writes survive SIGKILL, only a kernel
crash would lose them), Redis runs with ``appendonly yes`` and ``appendfsync always``, NATS
keeps JetStream on its file store.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from testkit.infra.local_binary import (
    HOST,
    POSTGRES_SYSTEM_USER,
    find_pg_ctl,
    free_port,
    plan_postgres_user,
)
from testkit.infra.protocol import SourceStartError
from testkit.infra.readiness import (
    nats_answers,
    postgres_answers,
    wait_until_ready,
)

ServerKind = Literal["postgres", "redis", "nats"]

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# The first start picks a free port; another process may grab it before the server binds.
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 15
# What a crash must not lose, and what only a kernel crash could (fsync, torn pages).
POSTGRES_SETTINGS: tuple[tuple[str, str], ...] = (
    ("fsync", "off"),
    ("full_page_writes", "off"),
    ("synchronous_commit", "on"),
    ("max_connections", "100"),
    ("listen_addresses", HOST),
)
# The signal that makes each server shut down quickly but cleanly (stop(), not kill()).
STOP_SIGNALS: dict[ServerKind, signal.Signals] = {
    "postgres": signal.SIGINT,  # "fast" shutdown: SIGTERM would wait for clients to leave
    "redis": signal.SIGTERM,
    "nats": signal.SIGINT,  # nats-server exits 0 on SIGINT, 1 on SIGTERM
}


class ServerUnavailable(RuntimeError):
    """The binary is missing or cannot run here; the message says what to install."""


def postgres_command(binary: Path, *, datadir: Path, port: int, socket_dir: Path) -> list[str]:
    """``postgres`` in the foreground (not pg_ctl), so the process we start is the postmaster."""
    settings = [arg for name, value in POSTGRES_SETTINGS for arg in ("-c", f"{name}={value}")]
    return [
        str(binary),
        *("-D", str(datadir), "-p", str(port), "-k", str(socket_dir)),
        *settings,
    ]


def initdb_command(binary: Path, *, datadir: Path) -> list[str]:
    return [
        str(binary),
        *("-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
        *("--no-sync", "--locale=C.UTF-8"),
    ]


def redis_command(binary: str, *, workdir: Path, port: int) -> list[str]:
    """Append-only file with fsync on every write: a SIGKILL loses no acknowledged write."""
    return [
        binary,
        *("--port", str(port), "--bind", HOST, "--dir", str(workdir)),
        *("--appendonly", "yes", "--appendfsync", "always", "--save", ""),
        *("--daemonize", "no", "--protected-mode", "no"),
    ]


def nats_command(binary: str, *, workdir: Path, port: int) -> list[str]:
    """JetStream on a file store in ``workdir``: streams and messages survive a restart."""
    return [binary, "-a", HOST, "-p", str(port), "-js", "-sd", str(workdir / "jetstream")]


def server_url(kind: ServerKind, port: int) -> str:
    if kind == "postgres":
        return f"postgresql://postgres@{HOST}:{port}/postgres"
    if kind == "redis":
        return f"redis://{HOST}:{port}/0"
    return f"nats://{HOST}:{port}"


@dataclass
class KillableServer:
    """One server process, restartable on the same port and data dir after ``kill()``.

    ``command_for(port)`` builds the command line; ``ready`` probes the url until it answers.
    """

    kind: ServerKind
    workdir: Path
    command_for: Callable[[int], list[str]]
    ready: Callable[[str, int], Callable[[], None]]
    run_as: str | None = None
    port: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return server_url(self.kind, self.port)

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
            os.killpg(process.pid, STOP_SIGNALS[self.kind])
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self) -> None:
        """Start again on the same port and data dir after kill() or stop()."""
        self.start()

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


def _postgres_ready(url: str, _port: int) -> Callable[[], None]:
    return postgres_answers(url)


def _redis_ready(_url: str, port: int) -> Callable[[], None]:
    """PING over a raw socket: a project without the redis client can still crash a Redis."""

    def check() -> None:
        with socket.create_connection((HOST, port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            answer = connection.recv(64)
        if not answer.startswith(b"+PONG"):
            raise RuntimeError(f"unexpected answer to PING: {answer[:40]!r}")

    return check


def _nats_ready(_url: str, port: int) -> Callable[[], None]:
    return nats_answers(HOST, port)


def _require_binary(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ServerUnavailable(f"{name} not found on PATH (install {hint})")
    return found


def _workdir(kind: ServerKind) -> Path:
    # /tmp, not pytest's basetemp: that is private to root (0700), the postgres user must enter.
    return Path(tempfile.mkdtemp(prefix=f"testkit-chaos-{kind}-"))


def postgres_server() -> KillableServer:
    """A PostgreSQL server (initdb'd, not started); as the postgres system user when root."""
    pg_ctl = find_pg_ctl()
    if pg_ctl is None:
        raise ServerUnavailable(
            "pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin (install postgresql)"
        )
    plan = plan_postgres_user(os.geteuid(), _user_exists(POSTGRES_SYSTEM_USER), "runuser")
    if plan.problem is not None:
        raise ServerUnavailable(plan.problem)
    bindir = pg_ctl.parent
    workdir = _workdir("postgres")
    if plan.run_as is not None:
        entry = pwd.getpwnam(plan.run_as)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    datadir = workdir / "data"
    initdb = subprocess.run(
        initdb_command(bindir / "initdb", datadir=datadir),
        cwd=workdir,
        user=plan.run_as,
        capture_output=True,
        text=True,
        check=False,
    )
    if initdb.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise SourceStartError(f"initdb failed: {(initdb.stderr or initdb.stdout).strip()}")

    def command(port: int) -> list[str]:
        return postgres_command(bindir / "postgres", datadir=datadir, port=port, socket_dir=workdir)

    return KillableServer("postgres", workdir, command, _postgres_ready, run_as=plan.run_as)


def redis_server() -> KillableServer:
    binary = _require_binary("redis-server", "redis-server, e.g. apt install redis-server")
    workdir = _workdir("redis")
    return KillableServer(
        "redis",
        workdir,
        lambda port: redis_command(binary, workdir=workdir, port=port),
        _redis_ready,
    )


def nats_server() -> KillableServer:
    binary = _require_binary("nats-server", "https://github.com/nats-io/nats-server/releases")
    workdir = _workdir("nats")
    return KillableServer(
        "nats",
        workdir,
        lambda port: nats_command(binary, workdir=workdir, port=port),
        _nats_ready,
    )


BUILDERS: dict[ServerKind, Callable[[], KillableServer]] = {
    "postgres": postgres_server,
    "redis": redis_server,
    "nats": nats_server,
}


@contextlib.contextmanager
def ephemeral(kind: ServerKind) -> Iterator[KillableServer]:
    """A started server of ``kind``; stopped and its data dir removed on exit."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown server kind {kind!r}; expected one of {', '.join(BUILDERS)}")
    server = BUILDERS[kind]()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def ephemeral_postgres() -> contextlib.AbstractContextManager[KillableServer]:
    return ephemeral("postgres")


def ephemeral_redis() -> contextlib.AbstractContextManager[KillableServer]:
    return ephemeral("redis")


def ephemeral_nats() -> contextlib.AbstractContextManager[KillableServer]:
    return ephemeral("nats")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


__all__ = [
    "KillableServer",
    "ServerUnavailable",
    "child_pids",
    "ephemeral",
    "ephemeral_nats",
    "ephemeral_postgres",
    "ephemeral_redis",
    "initdb_command",
    "nats_command",
    "postgres_command",
    "redis_command",
    "server_url",
]
