"""Source 3: an ephemeral server from binaries installed here, on a free port in a temp dir.

The servers are started by testkit.infra.server_processes (which says why not through
pytest-postgresql's and pytest-redis's executors), with durability off: they live for one
test session. PostgreSQL refuses to run as root; when we are root it runs as the `postgres`
system user, and the header says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from testkit.infra.protocol import (
    Endpoint,
    Probe,
    ProbeStatus,
    Service,
    SourceName,
    SourceStartError,
)
from testkit.infra.server_processes import KillableServer, ServerUnavailable
from testkit.infra.server_recipes import server_binary, started


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
        try:
            binary = server_binary(service)
        except ServerUnavailable as unavailable:
            return Probe(self.name, ProbeStatus.SKIPPED, str(unavailable))
        return Probe(self.name, ProbeStatus.AVAILABLE, f"{binary}, started on first use")

    def start(self, service: Service) -> LocalServer:
        try:
            server = started(service, durable=False)
        except (ServerUnavailable, OSError) as error:
            # The manager says which service and source; the error names the binary.
            raise SourceStartError(str(error)) from error
        detail = f"{server.binary} in {server.workdir}"
        if server.run_as is not None:
            detail += f", as system user {server.run_as} (PostgreSQL refuses root)"
        return LocalServer(Endpoint(service, server.url, self.name, detail), server)
