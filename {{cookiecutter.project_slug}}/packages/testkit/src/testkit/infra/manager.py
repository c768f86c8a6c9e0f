"""The session's services: resolved once, started on first use, stopped at the end."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence

from testkit.infra.protocol import (
    SERVICES,
    Endpoint,
    InfraSource,
    RunningService,
    Service,
    SourceStartError,
)
from testkit.infra.resolve import Resolution, resolve

# The client library that marks a service as used by this project (installed by its extra).
CLIENT_MODULES: dict[Service, str] = {"postgres": "psycopg", "redis": "redis", "nats": "nats"}


class ServiceUnavailable(Exception):
    """The service cannot be provided; str() is the reason, ready for a skip or failure message."""


def installed_services(
    client_modules: Mapping[Service, str] = CLIENT_MODULES,
) -> tuple[Service, ...]:
    """Services whose client library is importable: the ones this project uses."""
    return tuple(s for s in SERVICES if importlib.util.find_spec(client_modules[s]) is not None)


class InfraManager:
    def __init__(self, sources: Sequence[InfraSource], services: Sequence[Service]) -> None:
        self._sources = {source.name: source for source in sources}
        self._order = tuple(sources)
        self.services = tuple(services)
        self._resolutions: dict[Service, Resolution] = {}
        self._running: dict[Service, RunningService] = {}
        self._failed: dict[Service, str] = {}

    def resolution(self, service: Service) -> Resolution:
        if service not in self._resolutions:
            probes = (source.probe(service) for source in self._order)
            self._resolutions[service] = resolve(service, probes)
        return self._resolutions[service]

    def resolutions(self) -> list[Resolution]:
        return [self.resolution(service) for service in self.services]

    def endpoint(self, service: Service) -> Endpoint:
        """The running service, started now on first use; raises ServiceUnavailable otherwise."""
        if service in self._running:
            return self._running[service].endpoint
        if service not in self.services:
            raise ServiceUnavailable(
                f"{service} client not installed (add the testkit[{service}] extra)"
            )
        if service in self._failed:
            raise ServiceUnavailable(self._failed[service])
        chosen = self.resolution(service)
        if chosen.source is None:
            raise ServiceUnavailable(f"{service} unavailable: {chosen.reason}")
        try:
            running = self._sources[chosen.source].start(service)
        except SourceStartError as error:
            # Remember the failure: every later test skips at once instead of retrying the start.
            self._failed[service] = f"{service} via {chosen.source} failed to start: {error}"
            raise ServiceUnavailable(self._failed[service]) from error
        self._running[service] = running
        return running.endpoint

    def running(self, service: Service) -> RunningService | None:
        return self._running.get(service)

    def stop_all(self) -> list[str]:
        """Stop everything started; returns the errors (teardown must not hide test results)."""
        errors: list[str] = []
        for service, running in reversed(list(self._running.items())):
            try:
                running.stop()
            except Exception as error:  # reported by the caller, never raised over test results
                errors.append(f"{service}: {error}")
        self._running.clear()
        return errors
