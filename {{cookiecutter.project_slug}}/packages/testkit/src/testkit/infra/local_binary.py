"""Source 3: an ephemeral server from binaries installed here, on a free port in a temp dir.

PostgreSQL and Redis use pytest-postgresql's and pytest-redis's executors (which build on
mirakuru). NATS has no maintained pytest launcher, so nats-server is started here with mirakuru's
TCPExecutor, the same process handling those executors use.

PostgreSQL refuses to run as root. When we are root, the server runs as the `postgres` system
user: pg_ctl is called through a small wrapper script (`runuser -u postgres -- pg_ctl ...`) and the
temp dir is handed to that user. The header says so.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.infra.protocol import (
    Endpoint,
    Probe,
    ProbeStatus,
    Service,
    SourceName,
    SourceStartError,
)
from testkit.infra.readiness import nats_answers, postgres_answers, wait_until_ready

HOST = "127.0.0.1"
POSTGRES_SYSTEM_USER = "postgres"
# Durability is pointless for a server that lives for one test session; this makes it fast.
POSTGRES_FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
STARTUP_TIMEOUT = 60

PACKAGE_HINT: dict[Service, str] = {
    "postgres": "PostgreSQL server (e.g. apt install postgresql)",
    "redis": "redis-server (e.g. apt install redis-server)",
    "nats": "nats-server (https://github.com/nats-io/nats-server/releases)",
}


def free_port() -> int:
    """A port the kernel just handed out; start() retries if another process grabs it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def find_pg_ctl(
    path: str | None = None, search_globs: tuple[str, ...] | None = None
) -> Path | None:
    """pg_ctl on PATH, else the newest /usr/lib/postgresql/<version>/bin/pg_ctl (Debian's place)."""
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


def plan_postgres_user(euid: int, user_exists: bool, runuser: str | None) -> RootPlan:
    """Pure decision: run as ourselves, as the postgres system user, or not at all."""
    if euid != 0:
        return RootPlan(None, None)
    if not user_exists:
        return RootPlan(
            None,
            f"running as root, PostgreSQL refuses root, and there is no "
            f"'{POSTGRES_SYSTEM_USER}' system user to run it as",
        )
    if runuser is None:
        return RootPlan(
            None, "running as root, PostgreSQL refuses root, and runuser is not installed"
        )
    return RootPlan(POSTGRES_SYSTEM_USER, None)


def _system_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class LocalServer:
    """One server process from a local binary, in its own temp dir; restartable on the same port."""

    def __init__(self, endpoint: Endpoint, executor: Any, workdir: Path) -> None:
        self.endpoint = endpoint
        self._executor = executor
        self._workdir = workdir

    def stop(self) -> None:
        try:
            self._executor.stop()
        finally:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def kill(self) -> None:
        """Stop the process but keep its data, so restart() brings back the same server."""
        self._executor.stop()

    def restart(self) -> None:
        self._executor.start()


class LocalBinarySource:
    name: SourceName = "local-binary"

    def __init__(self, path: str | None = None) -> None:
        self._path = path  # PATH to search; None means the process's PATH

    def probe(self, service: Service) -> Probe:
        if service == "postgres":
            return self._probe_postgres()
        binary = self._binary(service)
        if binary is None:
            return Probe(
                self.name,
                ProbeStatus.SKIPPED,
                f"{_binary_name(service)} not found on PATH (install {PACKAGE_HINT[service]})",
            )
        return Probe(self.name, ProbeStatus.AVAILABLE, f"{binary}, started on first use")

    def _probe_postgres(self) -> Probe:
        pg_ctl = find_pg_ctl(self._path)
        if pg_ctl is None:
            return Probe(
                self.name,
                ProbeStatus.SKIPPED,
                "pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin "
                f"(install {PACKAGE_HINT['postgres']})",
            )
        plan = self._root_plan()
        if plan.problem is not None:
            return Probe(self.name, ProbeStatus.SKIPPED, plan.problem)
        as_user = (
            f" as system user {plan.run_as} via runuser (PostgreSQL refuses to run as root)"
            if plan.run_as
            else ""
        )
        return Probe(self.name, ProbeStatus.AVAILABLE, f"{pg_ctl}{as_user}, started on first use")

    def _root_plan(self) -> RootPlan:
        return plan_postgres_user(
            os.geteuid(), _system_user_exists(POSTGRES_SYSTEM_USER), shutil.which("runuser")
        )

    def _binary(self, service: Service) -> str | None:
        return shutil.which(_binary_name(service), path=self._path)

    def start(self, service: Service) -> LocalServer:
        from mirakuru.exceptions import AlreadyRunning

        starters = {"postgres": self._start_postgres, "redis": self._start_redis}
        starter = starters.get(service, self._start_nats)
        last_error: Exception | None = None
        # A free port can be taken between choosing and binding it (another xdist worker):
        # a few attempts on fresh ports make that harmless.
        for _attempt in range(3):
            try:
                return starter()
            except AlreadyRunning as error:
                last_error = error
            except SourceStartError:
                raise
            except Exception as error:  # executors raise mirakuru/OS errors; say which binary
                raise SourceStartError(f"{_binary_name(service)} did not start: {error}") from error
        raise SourceStartError(f"{_binary_name(service)} did not start: {last_error}")

    def _start_postgres(self) -> LocalServer:
        from pytest_postgresql.executors import PostgreSQLExecutor

        pg_ctl = find_pg_ctl(self._path)
        if pg_ctl is None:
            raise SourceStartError("pg_ctl not found")
        plan = self._root_plan()
        if plan.problem is not None:
            raise SourceStartError(plan.problem)
        # /tmp, not pytest's basetemp: that is private to root (0700), the postgres user must enter.
        workdir = Path(tempfile.mkdtemp(prefix="testkit-postgres-"))
        executable = str(pg_ctl)
        detail = f"{pg_ctl} in {workdir}"
        if plan.run_as is not None:
            executable = str(_runuser_wrapper(workdir, pg_ctl, plan.run_as))
            entry = pwd.getpwnam(plan.run_as)
            os.chown(workdir, entry.pw_uid, entry.pw_gid)
            detail += f", as system user {plan.run_as} via runuser (PostgreSQL refuses root)"
        port = free_port()
        executor = PostgreSQLExecutor(
            executable=executable,
            host=HOST,
            port=port,
            datadir=str(workdir / "data"),
            unixsocketdir=str(workdir),
            logfile=str(workdir / "postgresql.log"),
            startparams="-w",
            dbname="postgres",
            user="postgres",
            postgres_options=POSTGRES_FAST_OPTIONS,
            timeout=STARTUP_TIMEOUT,
        )
        url = f"postgresql://postgres@{HOST}:{port}/postgres"
        try:
            executor.start()
            # mirakuru returns once the port accepts; PostgreSQL may still refuse ("starting up").
            wait_until_ready(postgres_answers(url), what="PostgreSQL", timeout=STARTUP_TIMEOUT)
        except Exception:
            _discard(executor, workdir)
            raise
        return LocalServer(Endpoint("postgres", url, self.name, detail), executor, workdir)

    def _start_redis(self) -> LocalServer:
        from pytest_redis.executor import RedisExecutor

        binary = self._binary("redis")
        if binary is None:
            raise SourceStartError("redis-server not found")
        workdir = Path(tempfile.mkdtemp(prefix="testkit-redis-"))
        port = free_port()
        executor = RedisExecutor(
            executable=binary,
            databases=16,
            redis_timeout=30,
            loglevel="warning",
            host=HOST,
            port=port,
            startup_timeout=STARTUP_TIMEOUT,
            datadir=workdir,
        )
        try:
            executor.start()
        except Exception:
            _discard(executor, workdir)
            raise
        url = f"redis://{HOST}:{port}/0"
        return LocalServer(
            Endpoint("redis", url, self.name, f"{binary} in {workdir}"), executor, workdir
        )

    def _start_nats(self) -> LocalServer:
        from mirakuru import TCPExecutor

        binary = self._binary("nats")
        if binary is None:
            raise SourceStartError("nats-server not found")
        workdir = Path(tempfile.mkdtemp(prefix="testkit-nats-"))
        port = free_port()
        command = [
            binary,
            *("-a", HOST, "-p", str(port), "-js", "-sd", str(workdir / "jetstream")),
            *("-l", str(workdir / "nats-server.log")),
        ]
        # SIGINT: nats-server exits 0; on SIGTERM it exits 1, which mirakuru reports as an error.
        executor = TCPExecutor(
            command, host=HOST, port=port, timeout=STARTUP_TIMEOUT, stop_signal=signal.SIGINT
        )
        try:
            executor.start()
            # JetStream comes up with the listener, but the greeting proves the server is serving.
            wait_until_ready(nats_answers(HOST, port), what="nats-server", timeout=10)
        except Exception:
            _discard(executor, workdir)
            raise
        url = f"nats://{HOST}:{port}"
        return LocalServer(
            Endpoint("nats", url, self.name, f"{binary} in {workdir}"), executor, workdir
        )


def _binary_name(service: Service) -> str:
    return {"postgres": "pg_ctl", "redis": "redis-server", "nats": "nats-server"}[service]


def _runuser_wrapper(workdir: Path, pg_ctl: Path, user: str) -> Path:
    """An executable that runs pg_ctl as `user`; pytest-postgresql's executor takes one path."""
    wrapper = workdir / "pg_ctl-as-postgres"
    # cd /: the postgres user may not be allowed into our current directory (e.g. /root).
    wrapper.write_text(f'#!/bin/sh\ncd / && exec runuser -u {user} -- "{pg_ctl}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _discard(executor: Any, workdir: Path) -> None:
    # Best effort: the start already failed, and that error is the one worth reporting.
    with contextlib.suppress(Exception):
        executor.stop()
    shutil.rmtree(workdir, ignore_errors=True)
