"""Source 3: an ephemeral server from binaries installed here, on a free port in a temp dir.

The servers are started by testkit.infra.server_processes (which says why not through
pytest-postgresql's and pytest-redis's executors), with durability off: they live for one
test session. PostgreSQL refuses to run as root; when we are root it runs as the `postgres`
system user, and the header says so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from testkit.infra.protocol import (
    Endpoint,
    Probe,
    ProbeStatus,
    Service,
    SourceName,
    SourceStartError,
)
from testkit.infra.server_processes import (
    INSTALL_HINTS,
    KillableServer,
    ServerUnavailable,
    binary_name,
    find_pg_ctl,
    postgres_root_plan,
    started,
)


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A started server: its endpoint, and its process to kill() and restart() on the same port."""

    endpoint: Endpoint
    process: KillableServer

    def stop(self) -> None:
        self.process.remove()

    def kill(self) -> None:
        """SIGKILL the server but keep its data, so restart() brings back the same server."""
        self.process.kill()

    def restart(self) -> None:
        self.process.restart()


class LocalBinarySource:
    name: SourceName = "local-binary"

    def probe(self, service: Service) -> Probe:
        if service == "postgres":
            return self._probe_postgres()
        binary = shutil.which(binary_name(service))
        if binary is None:
            return Probe(
                self.name,
                ProbeStatus.SKIPPED,
                f"{binary_name(service)} not found on PATH (install {INSTALL_HINTS[service]})",
            )
        return Probe(self.name, ProbeStatus.AVAILABLE, f"{binary}, started on first use")

    def _probe_postgres(self) -> Probe:
        pg_ctl = find_pg_ctl()
        if pg_ctl is None:
            return Probe(
                self.name,
                ProbeStatus.SKIPPED,
                "pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin "
                f"(install {INSTALL_HINTS['postgres']})",
            )
        plan = postgres_root_plan()
        if plan.problem is not None:
            return Probe(self.name, ProbeStatus.SKIPPED, plan.problem)
        as_user = (
            f" as system user {plan.run_as} (PostgreSQL refuses to run as root)"
            if plan.run_as
            else ""
        )
        postgres = pg_ctl.parent / "postgres"
        return Probe(self.name, ProbeStatus.AVAILABLE, f"{postgres}{as_user}, started on first use")

    def start(self, service: Service) -> LocalServer:
        try:
            server = started(service, durable=False)
        except (ServerUnavailable, OSError) as error:
            raise SourceStartError(f"{binary_name(service)} did not start: {error}") from error
        detail = f"{server.binary} in {server.workdir}"
        if server.run_as is not None:
            detail += f", as system user {server.run_as} (PostgreSQL refuses root)"
        return LocalServer(Endpoint(service, server.url, self.name, detail), server)
