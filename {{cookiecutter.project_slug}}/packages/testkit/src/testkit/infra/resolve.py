"""Choosing a source per service: a pure decision over the sources' probes, with the reasons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from testkit.infra.protocol import Probe, ProbeStatus, Service, SourceName


@dataclass(frozen=True, slots=True)
class Resolution:
    """The source chosen for a service (None: unavailable) and why the others were passed over."""

    service: Service
    source: SourceName | None
    detail: str
    passed_over: tuple[Probe, ...]

    @property
    def available(self) -> bool:
        return self.source is not None

    @property
    def reason(self) -> str:
        """Why the service is unavailable (empty when it is available)."""
        return "" if self.available else self.detail

    def describe(self) -> str:
        """`source(detail)` for the header, e.g. url(postgresql://127.0.0.1:5432/test)."""
        return f"{self.source or 'unavailable'}({self.detail})"


def resolve(service: Service, probes: Iterable[Probe]) -> Resolution:
    """First available source wins; a failed one (a URL that does not answer) ends the search.

    probes is consumed lazily, so a generator only probes as far as needed.
    """
    passed_over: list[Probe] = []
    for probe in probes:
        if probe.status is ProbeStatus.AVAILABLE:
            return Resolution(service, probe.source, probe.reason, tuple(passed_over))
        passed_over.append(probe)
        if probe.status is ProbeStatus.FAILED:
            return Resolution(service, None, probe.reason, tuple(passed_over))
    if not passed_over:
        return Resolution(service, None, "no infrastructure source configured", ())
    return Resolution(service, None, "; ".join(p.reason for p in passed_over), tuple(passed_over))
