from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from testkit.infra.manager import InfraManager, ServiceUnavailable
from testkit.infra.protocol import (
    Endpoint,
    Probe,
    ProbeStatus,
    RunningService,
    Service,
    SourceName,
    SourceStartError,
)


@dataclass
class FakeRunning:
    endpoint: Endpoint
    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True


@dataclass
class FakeSource:
    """A source whose probe answer and start outcome are set by the test; counts its starts."""

    name: SourceName
    status: ProbeStatus = ProbeStatus.AVAILABLE
    start_error: str | None = None
    starts: list[Service] = field(default_factory=list)
    started: list[FakeRunning] = field(default_factory=list)

    def probe(self, service: Service) -> Probe:
        return Probe(self.name, self.status, f"{self.name} for {service}")

    def start(self, service: Service) -> RunningService:
        self.starts.append(service)
        if self.start_error is not None:
            raise SourceStartError(self.start_error)
        running = FakeRunning(Endpoint(service, f"fake://{service}", self.name, "fake"))
        self.started.append(running)
        return running


def test_nothing_starts_until_a_service_is_first_used_and_then_only_once() -> None:
    source = FakeSource("local-binary")
    manager = InfraManager([source], ["postgres", "redis"])

    assert [r.source for r in manager.resolutions()] == ["local-binary", "local-binary"]
    assert source.starts == []

    first = manager.endpoint("redis")
    second = manager.endpoint("redis")

    assert first is second
    assert source.starts == ["redis"]


def test_a_failed_start_is_remembered_so_later_tests_skip_without_retrying() -> None:
    source = FakeSource("local-binary", start_error="initdb failed")
    manager = InfraManager([source], ["postgres"])

    for _attempt in range(2):
        with pytest.raises(
            ServiceUnavailable, match="postgres via local-binary failed to start: initdb failed"
        ):
            manager.endpoint("postgres")

    assert source.starts == ["postgres"]


def test_a_service_whose_client_is_not_installed_is_unavailable_naming_the_extra() -> None:
    manager = InfraManager([FakeSource("url")], ["postgres"])

    with pytest.raises(ServiceUnavailable, match=r"testkit\[nats\] extra"):
        manager.endpoint("nats")


def test_stop_all_stops_every_started_service() -> None:
    source = FakeSource("testcontainers")
    manager = InfraManager([source], ["postgres", "redis"])
    manager.endpoint("postgres")
    manager.endpoint("redis")

    assert manager.stop_all() == []
    assert all(running.stopped for running in source.started)
