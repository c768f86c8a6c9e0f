"""One recipe per kind of server (PostgreSQL, Redis, NATS), behind one interface: what runs it
here, how to build a KillableServer of it (data directory, command line, readiness probe, URL,
stop signal), and `started`, which the local-binary source and the chaos tests both call.

The command lines and the PostgreSQL user decision are pure functions, tested alone.
"""

from __future__ import annotations

import abc
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from testkit.infra.protocol import SourceStartError
from testkit.infra.readiness import nats_answers, postgres_answers
from testkit.infra.server_processes import HOST, KillableServer, ServerKind, ServerUnavailable

POSTGRES_SYSTEM_USER = "postgres"


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


def _workdir(kind: ServerKind, owner: str | None = None) -> Path:
    # /tmp, not pytest's basetemp: that is private to root (0700), the postgres user must enter.
    workdir = Path(tempfile.mkdtemp(prefix=f"testkit-{kind}-"))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    return workdir


class ServerRecipe(abc.ABC):
    """How one kind of server is found, built and probed here."""

    kind: ClassVar[ServerKind]
    # The signal that makes the server shut down quickly but cleanly (stop(), not kill()).
    stop_signal: ClassVar[signal.Signals]
    install_hint: ClassVar[str]

    @abc.abstractmethod
    def url(self, port: int) -> str: ...

    @abc.abstractmethod
    def binary(self) -> str:
        """What would run this server here, without starting it; ServerUnavailable if nothing."""

    @abc.abstractmethod
    def build(self, durable: bool) -> KillableServer:
        """A server ready to start (its data directory made); ServerUnavailable if it cannot."""

    def _server(
        self,
        workdir: Path,
        command_for: Callable[[int], list[str]],
        ready: Callable[[str, int], Callable[[], None]],
        run_as: str | None = None,
    ) -> KillableServer:
        return KillableServer(
            self.kind, workdir, command_for, ready, self.url, self.stop_signal, run_as=run_as
        )

    def _which(self, name: str) -> str:
        found = shutil.which(name)
        if found is None:
            raise ServerUnavailable(f"{name} not found on PATH (install {self.install_hint})")
        return found


class PostgresRecipe(ServerRecipe):
    kind = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients to leave
    install_hint = "PostgreSQL server (e.g. apt install postgresql)"

    def url(self, port: int) -> str:
        return f"postgresql://postgres@{HOST}:{port}/postgres"

    def bindir(self) -> tuple[Path, RootPlan]:
        """The directory of initdb and postgres, and as whom they run."""
        pg_ctl = find_pg_ctl()
        if pg_ctl is None:
            raise ServerUnavailable(
                "pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin "
                f"(install {self.install_hint})"
            )
        plan = _postgres_root_plan()
        if plan.problem is not None:
            raise ServerUnavailable(plan.problem)
        return pg_ctl.parent, plan

    def binary(self) -> str:
        bindir, plan = self.bindir()
        as_user = f" as system user {plan.run_as} (PostgreSQL refuses to run as root)"
        return f"{bindir / 'postgres'}{as_user if plan.run_as else ''}"

    def build(self, durable: bool) -> KillableServer:
        """initdb'd, not started; as the postgres system user when we are root."""
        bindir, plan = self.bindir()
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

        return self._server(workdir, command, _postgres_ready, run_as=plan.run_as)


class RedisRecipe(ServerRecipe):
    kind = "redis"
    stop_signal = signal.SIGTERM
    install_hint = "redis-server (e.g. apt install redis-server)"

    def url(self, port: int) -> str:
        return f"redis://{HOST}:{port}/0"

    def binary(self) -> str:
        return self._which("redis-server")

    def build(self, durable: bool) -> KillableServer:
        binary = self.binary()
        workdir = _workdir("redis")
        return self._server(
            workdir,
            lambda port: redis_command(binary, workdir=workdir, port=port, durable=durable),
            _redis_ready,
        )


class NatsRecipe(ServerRecipe):
    kind = "nats"
    stop_signal = signal.SIGINT  # nats-server exits 0 on SIGINT, 1 on SIGTERM
    install_hint = "nats-server (https://github.com/nats-io/nats-server/releases)"

    def url(self, port: int) -> str:
        return f"nats://{HOST}:{port}"

    def binary(self) -> str:
        return self._which("nats-server")

    def build(self, durable: bool) -> KillableServer:
        del durable  # JetStream always keeps its file store; there is nothing to switch off
        binary = self.binary()
        workdir = _workdir("nats")
        return self._server(
            workdir, lambda port: nats_command(binary, workdir=workdir, port=port), _nats_ready
        )


RECIPES: dict[ServerKind, ServerRecipe] = {
    recipe.kind: recipe for recipe in (PostgresRecipe(), RedisRecipe(), NatsRecipe())
}


def server_url(kind: ServerKind, port: int) -> str:
    return RECIPES[kind].url(port)


def server_binary(kind: ServerKind) -> str:
    """What would run ``kind``'s server here, e.g. "/usr/bin/redis-server", without starting it.

    Raises ServerUnavailable saying what to install, or why PostgreSQL cannot run here.
    """
    return RECIPES[kind].binary()


def started(kind: ServerKind, *, durable: bool) -> KillableServer:
    """A running server of ``kind``; nothing is left behind when it fails to start.

    Raises ServerUnavailable (binary missing, cannot run here) or SourceStartError.
    """
    if kind not in RECIPES:
        raise ValueError(f"unknown server kind {kind!r}; expected one of {', '.join(RECIPES)}")
    server = RECIPES[kind].build(durable)
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
