"""Pushing a run's metrics to a Prometheus Pushgateway (TESTKIT_PUSHGATEWAY_URL).

Each push replaces one group: job "testkit" and a `scope` label (the run's tiers, or "gates"),
so `make test-unit` and `make test-integration` keep a series each and the gates keep theirs.
A failed push is reported, never raised: a monitoring outage must not fail a test run.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import Metric

from testkit.monitoring.run_metrics import registry_of

JOB = "testkit"
PUSH_TIMEOUT_S = 5.0


def push(url: str, scope: str, families: Sequence[Metric]) -> str | None:
    """PUT the families as group {job="testkit", scope=...}; the error line on failure."""
    from prometheus_client.exposition import push_to_gateway

    try:
        push_to_gateway(
            url,
            job=JOB,
            registry=registry_of(families),
            grouping_key={"scope": scope},
            timeout=PUSH_TIMEOUT_S,
        )
    except OSError as error:  # URLError, connection refused, timeouts
        return f"testkit: pushing metrics to {url} failed: {error}"
    return None
