"""Source 1: an explicit URL (TEST_POSTGRES_URL, TEST_REDIS_URL, TEST_NATS_URL).

Authoritative: when set but not answering, the service is unavailable (no fallback that would
hide the misconfiguration).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from testkit.infra.addresses import check_scheme, host_port, mask_password, tcp_unreachable_reason
from testkit.infra.protocol import (
    Endpoint,
    Probe,
    ProbeStatus,
    RunningService,
    Service,
    SourceName,
    SourceStartError,
)
from testkit.options import URL_SETTINGS


@dataclass(frozen=True, slots=True)
class ExternalService:
    """A service someone else runs: nothing to stop."""

    endpoint: Endpoint

    def stop(self) -> None:
        return None


class UrlSource:
    name: SourceName = "url"

    def __init__(self, urls: Mapping[Service, str | None]) -> None:
        self._urls = dict(urls)

    def probe(self, service: Service) -> Probe:
        variable = URL_SETTINGS[service].env
        url = self._urls.get(service)
        if not url:
            return Probe(self.name, ProbeStatus.SKIPPED, f"{variable} not set")
        bad_scheme = check_scheme(service, url, variable)
        if bad_scheme is not None:
            return Probe(self.name, ProbeStatus.FAILED, bad_scheme)
        address = host_port(url)
        if address is None:
            return Probe(
                self.name, ProbeStatus.AVAILABLE, f"{mask_password(url)}, Unix socket, not probed"
            )
        error = tcp_unreachable_reason(*address)
        if error is not None:
            return Probe(
                self.name,
                ProbeStatus.FAILED,
                f"{mask_password(url)} ({variable}) is not reachable: {error}",
            )
        return Probe(self.name, ProbeStatus.AVAILABLE, mask_password(url))

    def start(self, service: Service) -> RunningService:
        url = self._urls.get(service)
        if not url:
            raise SourceStartError(f"{URL_SETTINGS[service].env} not set")
        return ExternalService(Endpoint(service, url, self.name, URL_SETTINGS[service].env))
