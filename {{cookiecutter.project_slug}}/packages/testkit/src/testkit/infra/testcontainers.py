"""Source 2: a throwaway container per service, when a Docker daemon answers.

Built on testcontainers' core DockerContainer rather than its per-database modules, whose import
paths have moved between releases; readiness is checked with the real client.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.infra.protocol import (
    Endpoint,
    Probe,
    ProbeStatus,
    RunningService,
    Service,
    SourceName,
    SourceStartError,
)
from testkit.infra.readiness import (
    nats_answers,
    postgres_answers,
    redis_answers,
    wait_until_ready,
)


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    image: str
    port: int
    env: tuple[tuple[str, str], ...] = ()
    command: str | None = None


DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"

SPECS: dict[Service, ContainerSpec] = {
    # Trust auth: the container is reachable only from this machine and lives for one session.
    "postgres": ContainerSpec(
        "postgres:16-alpine", 5432, (("POSTGRES_HOST_AUTH_METHOD", "trust"),)
    ),
    "redis": ContainerSpec("redis:7-alpine", 6379),
    "nats": ContainerSpec("nats:2.10-alpine", 4222, command="-js"),
}


def docker_unavailable_reason(environ: Mapping[str, str] | None = None) -> str | None:
    """None when a Docker daemon answers a ping, else why not (one short line)."""
    if importlib.util.find_spec("testcontainers") is None:
        return "testcontainers not installed (testkit[docker] extra)"
    docker_host = (os.environ if environ is None else environ).get("DOCKER_HOST", "")
    socket_path = docker_host.removeprefix("unix://") if docker_host else DEFAULT_DOCKER_SOCKET
    if (not docker_host or docker_host.startswith("unix://")) and not Path(socket_path).exists():
        return f"no Docker daemon ({socket_path} not found)"
    return _ping_docker()


def _ping_docker() -> str | None:
    problem: str | None = None
    # The docker SDK leaves its socket open when the daemon does not answer; collect it here, with
    # the ResourceWarning silenced, instead of letting it surface in some later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker

            client = docker.from_env(timeout=3)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as error:  # the docker SDK raises many types for "no daemon here"
            first_line = (str(error).splitlines() or [type(error).__name__])[0]
            problem = f"no Docker daemon ({first_line[:120]})"
        gc.collect()
    return problem


@dataclass(slots=True)
class ContainerService:
    endpoint: Endpoint
    container: Any

    def stop(self) -> None:
        self.container.stop()


class TestcontainersSource:
    __test__ = False  # a source, not a test class, when a test module imports it

    name: SourceName = "testcontainers"

    def __init__(self) -> None:
        self._docker_reason: str | None = None
        self._docker_checked = False

    def _docker_problem(self) -> str | None:
        # One ping per session, shared by the three services.
        if not self._docker_checked:
            self._docker_reason = docker_unavailable_reason()
            self._docker_checked = True
        return self._docker_reason

    def probe(self, service: Service) -> Probe:
        problem = self._docker_problem()
        if problem is not None:
            return Probe(self.name, ProbeStatus.SKIPPED, problem)
        spec = SPECS[service]
        return Probe(self.name, ProbeStatus.AVAILABLE, f"{spec.image}, started on first use")

    def start(self, service: Service) -> RunningService:
        from testcontainers.core.container import DockerContainer

        spec = SPECS[service]
        container = DockerContainer(spec.image).with_exposed_ports(spec.port)
        for key, value in spec.env:
            container = container.with_env(key, value)
        if spec.command is not None:
            container = container.with_command(spec.command)
        try:
            container.start()
            host = container.get_container_host_ip()
            port = int(container.get_exposed_port(spec.port))
            url = _url(service, host, port)
            wait_until_ready(_readiness(service, url, host, port), what=f"{service} container")
        except Exception as error:
            container.stop()
            raise SourceStartError(f"{spec.image} did not start: {error}") from error
        return ContainerService(
            Endpoint(service, url, self.name, f"{spec.image} at {host}:{port}"), container
        )


def _url(service: Service, host: str, port: int) -> str:
    if service == "postgres":
        return f"postgresql://postgres@{host}:{port}/postgres"
    if service == "redis":
        return f"redis://{host}:{port}/0"
    return f"nats://{host}:{port}"


def _readiness(service: Service, url: str, host: str, port: int) -> Callable[[], None]:
    if service == "postgres":
        return postgres_answers(url)
    if service == "redis":
        return redis_answers(url)
    return nats_answers(host, port)
