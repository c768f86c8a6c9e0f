from __future__ import annotations

from collections.abc import Iterator

from testkit.infra.protocol import Probe, ProbeStatus
from testkit.infra.resolve import resolve

URL_UNSET = Probe("url", ProbeStatus.SKIPPED, "TEST_REDIS_URL not set")
NO_DOCKER = Probe("testcontainers", ProbeStatus.SKIPPED, "no Docker daemon (socket missing)")
LOCAL = Probe("local-binary", ProbeStatus.AVAILABLE, "/usr/bin/redis-server, started on first use")


def _then_explode(*probes: Probe) -> Iterator[Probe]:
    """Yields the probes, then fails: proves resolve() stops probing once it has decided."""
    yield from probes
    raise AssertionError("probed a source after the decision")


def test_the_first_available_source_wins_and_the_skipped_ones_keep_their_reasons() -> None:
    resolution = resolve("redis", _then_explode(URL_UNSET, NO_DOCKER, LOCAL))

    assert resolution.source == "local-binary"
    assert resolution.passed_over == (URL_UNSET, NO_DOCKER)
    assert resolution.describe() == "local-binary(/usr/bin/redis-server, started on first use)"


def test_an_unreachable_explicit_url_makes_the_service_unavailable_without_trying_others() -> None:
    dead = Probe("url", ProbeStatus.FAILED, "redis://127.0.0.1:1 (TEST_REDIS_URL) is not reachable")

    resolution = resolve("redis", _then_explode(dead))

    assert not resolution.available
    assert resolution.reason == "redis://127.0.0.1:1 (TEST_REDIS_URL) is not reachable"


def test_when_every_source_is_skipped_the_reason_lists_each_of_them() -> None:
    missing = Probe("local-binary", ProbeStatus.SKIPPED, "redis-server not found on PATH")

    resolution = resolve("redis", [URL_UNSET, NO_DOCKER, missing])

    assert resolution.describe() == (
        "unavailable(TEST_REDIS_URL not set; no Docker daemon (socket missing); "
        "redis-server not found on PATH)"
    )
