"""PostgreSQL, Redis and NATS server processes started from the installed binaries.

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
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from testkit.infra.protocol import Service, SourceStartError
from testkit.infra.readiness import nats_answers, postgres_answers, wait_until_ready

ServerKind = Service

HOST = "127.0.0.1"
POSTGRES_SYSTEM_USER = "postgres"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# The first start picks a free port; another process may grab it before the server binds.
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 15
# The signal that makes each server shut down quickly but cleanly (stop(), not kill()).
STOP_SIGNALS: dict[ServerKind, signal.Signals] = {
    "postgres": signal.SIGINT,  # "fast" shutdown: SIGTERM would wait for clients to leave
    "redis": signal.SIGTERM,
    "nats": signal.SIGINT,  # nats-server exits 0 on SIGINT, 1 on SIGTERM
}
INSTALL_HINTS: dict[ServerKind, str] = {
    "postgres": "PostgreSQL server (e.g. apt install postgresql)",
    "redis": "redis-server (e.g. apt install redis-server)",
    "nats": "nats-server (https://github.com/nats-io/nats-server/releases)",
}


class ServerUnavailable(RuntimeError):
    """The binary is missing or cannot run here; the message says what to install."""


def free_port() -> int:
    """A port the kernel just handed out; start() retries if another process grabs it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def find_pg_ctl(
    path: str | None = None, search_globs: tuple[str, ...] | None = None
) -> Path | None:
    """pg_ctl on PATH, else the newest /usr/lib/postgresql/<version>/bin/pg_ctl (Debian's place).

    Its directory holds the ``initdb`` and ``postgres`` binaries of the same version.
    """
    found = shutil.which("pg_ctl", path=path)
    if found:
        return Path(found)
    patterns = search_globs or ("/usr/lib/postgresql/*/bin/pg_ctl", "/usr/local/pgsql/bin/pg_ctl")
    candidates = [Path(match) for pattern in patterns for match in glob.glob(pattern)]
    candidates = [candidate for candidate in candidates if os.access(candidate, os.X_OK)]
    if not candidates:
        return None
    return max(candidates, key=_version_key)


def _version_key(path: Path) -> tuple[int, ...]:
    version = path.parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit()) or (0,)


@dataclass(frozen=True, slots=True)
class RootPlan:
    """How PostgreSQL gets a non-root user when we are root."""

    run_as: str | None  # None: run as ourselves
    problem: str | None  # set when we are root and cannot switch user


def plan_postgres_user(euid: int, user_exists: bool) -> RootPlan:
    """Pure decision: run as ourselves, as the postgres system user, or not at all."""
    if euid != 0:
        return RootPlan(None, None)
    if not user_exists:
        return RootPlan(
            None,
            f"running as root, PostgreSQL refuses root, and there is no "
            f"'{POSTGRES_SYSTEM_USER}' system user to run it as",
        )
    return RootPlan(POSTGRES_SYSTEM_USER, None)


def _postgres_root_plan() -> RootPlan:
    """plan_postgres_user for this process and this machine's users."""
    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        user_exists = False
    else:
        user_exists = True
    return plan_postgres_user(os.geteuid(), user_exists)


def postgres_command(
    binary: Path, *, datadir: Path, port: int, socket_dir: Path, durable: bool
) -> list[str]:
    """``postgres`` in the foreground (not pg_ctl), so the process we start is the postmaster.

    fsync stays off either way: page-cache writes survive a SIGKILL, only a kernel crash would
    lose them. ``durable`` keeps synchronous_commit on, so a crash loses no acknowledged commit.
    """
    settings = {
        "fsync": "off",
        "full_page_writes": "off",
        "synchronous_commit": "on" if durable else "off",
        "max_connections": "100",
        "listen_addresses": HOST,
    }
    return [
        str(binary),
        *("-D", str(datadir), "-p", str(port), "-k", str(socket_dir)),
        *(arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")),
    ]


def initdb_command(binary: Path, *, datadir: Path) -> list[str]:
    return [
        str(binary),
        *("-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
        *("--no-sync", "--locale=C.UTF-8"),
    ]


def redis_command(binary: str, *, workdir: Path, port: int, durable: bool) -> list[str]:
    """``durable``: an append-only file fsynced on every write, so a SIGKILL loses nothing."""
    persistence = ("--appendonly", "yes", "--appendfsync", "always") if durable else ()
    return [
        binary,
        *("--port", str(port), "--bind", HOST, "--dir", str(workdir)),
        *persistence,
        *("--save", "", "--daemonize", "no", "--protected-mode", "no"),
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


def _require_binary(kind: ServerKind) -> str:
    name = {"redis": "redis-server", "nats": "nats-server"}[kind]
    found = shutil.which(name)
    if found is None:
        raise ServerUnavailable(f"{name} not found on PATH (install {INSTALL_HINTS[kind]})")
    return found


def _postgres_bindir() -> tuple[Path, RootPlan]:
    """The directory of initdb and postgres, and as whom they run; ServerUnavailable otherwise."""
    pg_ctl = find_pg_ctl()
    if pg_ctl is None:
        raise ServerUnavailable(
            "pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin "
            f"(install {INSTALL_HINTS['postgres']})"
        )
    plan = _postgres_root_plan()
    if plan.problem is not None:
        raise ServerUnavailable(plan.problem)
    return pg_ctl.parent, plan


def server_binary(kind: ServerKind) -> str:
    """What would run ``kind``'s server here, e.g. "/usr/bin/redis-server", without starting it.

    Raises ServerUnavailable saying what to install, or why PostgreSQL cannot run here.
    """
    if kind != "postgres":
        return _require_binary(kind)
    bindir, plan = _postgres_bindir()
    as_user = f" as system user {plan.run_as} (PostgreSQL refuses to run as root)"
    return f"{bindir / 'postgres'}{as_user if plan.run_as else ''}"


def _workdir(kind: ServerKind, owner: str | None = None) -> Path:
    # /tmp, not pytest's basetemp: that is private to root (0700), the postgres user must enter.
    workdir = Path(tempfile.mkdtemp(prefix=f"testkit-{kind}-"))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    return workdir


def postgres_server(durable: bool) -> KillableServer:
    """A PostgreSQL server (initdb'd, not started); as the postgres system user when root."""
    bindir, plan = _postgres_bindir()
    workdir = _workdir("postgres", owner=plan.run_as)
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
        return postgres_command(
            bindir / "postgres", datadir=datadir, port=port, socket_dir=workdir, durable=durable
        )

    return KillableServer("postgres", workdir, command, _postgres_ready, run_as=plan.run_as)


def redis_server(durable: bool) -> KillableServer:
    binary = _require_binary("redis")
    workdir = _workdir("redis")
    return KillableServer(
        "redis",
        workdir,
        lambda port: redis_command(binary, workdir=workdir, port=port, durable=durable),
        _redis_ready,
    )


def nats_server(durable: bool) -> KillableServer:
    del durable  # JetStream always keeps its file store; there is nothing to switch off
    binary = _require_binary("nats")
    workdir = _workdir("nats")
    return KillableServer(
        "nats",
        workdir,
        lambda port: nats_command(binary, workdir=workdir, port=port),
        _nats_ready,
    )


BUILDERS: dict[ServerKind, Callable[[bool], KillableServer]] = {
    "postgres": postgres_server,
    "redis": redis_server,
    "nats": nats_server,
}


def started(kind: ServerKind, *, durable: bool) -> KillableServer:
    """A running server of ``kind``; nothing is left behind when it fails to start.

    Raises ServerUnavailable (binary missing, cannot run here) or SourceStartError.
    """
    if kind not in BUILDERS:
        raise ValueError(f"unknown server kind {kind!r}; expected one of {', '.join(BUILDERS)}")
    server = BUILDERS[kind](durable)
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
