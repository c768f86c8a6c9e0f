"""Infrastructure for the tests: a source per service, chosen in order, started on first use."""

from testkit.infra.manager import InfraManager, ServiceUnavailable, installed_services
from testkit.infra.protocol import SERVICES, Endpoint, InfraSource, Probe, ProbeStatus, Service
from testkit.infra.resolve import Resolution, resolve

__all__ = [
    "SERVICES",
    "Endpoint",
    "InfraManager",
    "InfraSource",
    "Probe",
    "ProbeStatus",
    "Resolution",
    "Service",
    "ServiceUnavailable",
    "installed_services",
    "resolve",
]


def default_sources(urls: dict[Service, str | None]) -> list[InfraSource]:
    """The sources in their order: explicit URL, testcontainers, local binary."""
    from testkit.infra.local_binary import LocalBinarySource
    from testkit.infra.testcontainers import TestcontainersSource
    from testkit.infra.url import UrlSource

    return [UrlSource(urls), TestcontainersSource(), LocalBinarySource()]
