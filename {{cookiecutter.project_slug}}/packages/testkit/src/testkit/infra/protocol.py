"""What every infrastructure source provides, and what the tests get from it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Protocol

Service = Literal["postgres", "redis", "nats"]
SERVICES: tuple[Service, ...] = ("postgres", "redis", "nats")
SourceName = Literal["url", "testcontainers", "local-binary"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A running service the tests can connect to.

    url: postgresql://user[:pw]@host:port/db, redis://host:port/db or nats://host:port.
    """

    service: Service
    url: str
    source: SourceName
    detail: str


class ProbeStatus(enum.Enum):
    AVAILABLE = "available"
    # Not configured / not installed here: try the next source.
    SKIPPED = "skipped"
    # Configured but broken (an explicit URL that does not answer): the service is unavailable,
    # later sources are not tried, because silently using something else would hide the problem.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Probe:
    """A source's answer to "could you provide this service?", found without starting anything."""

    source: SourceName
    status: ProbeStatus
    reason: str


class RunningService(Protocol):
    """A service a source started or connected to; stop() releases whatever start() took."""

    @property
    def endpoint(self) -> Endpoint: ...

    def stop(self) -> None: ...


class InfraSource(Protocol):
    """One way of getting a service: probe cheaply, then start on first use."""

    name: SourceName

    def probe(self, service: Service) -> Probe: ...

    def start(self, service: Service) -> RunningService: ...


class SourceStartError(RuntimeError):
    """A source that probed available failed to start its service; the message says why."""
