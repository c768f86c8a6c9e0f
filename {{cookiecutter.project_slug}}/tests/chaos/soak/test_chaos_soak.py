"""The random-fault chaos soak (`make chaos-soak`): a steady load while random faults come and go.

Postgres, Redis and NATS each sit behind a fault proxy; every second, with probability
CHAOS_PROBABILITY, a random fault of the proxy's vocabulary (down, latency, timeout, reset_peer,
bandwidth, slicer, limit_data) starts on a random one for half a second to three, for
CHAOS_DURATION seconds in all, while writers, searchers and WebSocket subscribers run. The
schedule comes from CHAOS_SEED (default: the session's seed), printed with the summary, so a
failing soak is replayed fault for fault.

Afterwards, on a healthy system, it checks the invariants: readiness recovered; no
acknowledged write lost; every write retried after a refusal stored exactly once; every
stored document's event delivered by JetStream once after deduplication; every subscriber,
resuming with ?after=, saw every document. It runs only when asked (CHAOS_ENABLED=1, which
`make chaos-soak` sets): it takes as long as CHAOS_DURATION says.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from _fixtures.chaos import (
    RECOVERY_DEADLINE_SECONDS,
    Dependencies,
    ServiceStarter,
    Tenant,
    client_for,
    create_tenant,
    deduplicated,
    delivered_events,
    document_ids_of,
    is_ready,
    listed_ids,
    stored_documents,
    unpublished_count,
    wait_until,
)
from _fixtures.soak_load import LoadRecord, Subscriber, searcher, write_once, writer
from testkit import options, report_files
from testkit.chaos import FaultProxyFactory, Proxy, proxied_url
from testkit.chaos.soak import (
    InvariantResult,
    SoakConfig,
    SoakReport,
    SoakSettingError,
    plan_faults,
    soak_config,
)
from testkit.chaos.soak_runner import FaultSchedule
from testkit.infra import Endpoint
from testkit.infra.addresses import host_port

WRITERS = 2
SUBSCRIBERS = 2
RETRIES = 20  # attempts per refused write once the faults are over (a healthy system: one)
SERVICE_SETTINGS = {
    # Short timeouts, so a request caught by a fault ends (503) instead of waiting it out.
    "DB_CONNECT_TIMEOUT_SECONDS": "1",
    "REQUEST_TIMEOUT_SECONDS": "3",
    "DB_POOL_TIMEOUT_SECONDS": "2",
}


@pytest.fixture
def soak(pytestconfig: pytest.Config, test_seed: int) -> SoakConfig:
    """The soak's knobs, or a skip naming how to ask for it."""
    enabled = options.get_setting(pytestconfig, options.CHAOS_ENABLED)
    if not options.parse_flag(options.CHAOS_ENABLED, enabled):
        pytest.skip("the chaos soak runs when asked: make chaos-soak (CHAOS_ENABLED=1)")
    try:
        return soak_config(
            options.get_setting(pytestconfig, options.CHAOS_PROBABILITY),
            options.get_setting(pytestconfig, options.CHAOS_DURATION),
            options.get_setting(pytestconfig, options.CHAOS_SEED),
            default_seed=test_seed,
        )
    except SoakSettingError as error:
        pytest.fail(str(error), pytrace=False)


def test_chaos_soak(
    soak: SoakConfig,
    pytestconfig: pytest.Config,
    postgres_server: Endpoint,
    redis_server: Endpoint,
    nats_server: Endpoint,
    fault_proxy: FaultProxyFactory,
    chaos_dependencies: Dependencies,
    chaos_service: ServiceStarter,
) -> None:
    proxies: dict[str, Proxy] = {
        endpoint.service: fault_proxy(endpoint.service, _address(endpoint))
        for endpoint in (postgres_server, redis_server, nats_server)
    }
    dependencies = replace(
        chaos_dependencies,
        database_url=proxied_url(chaos_dependencies.database_url, proxies["postgres"]),
        redis_url=proxied_url(chaos_dependencies.redis_url, proxies["redis"]),
        nats_url=proxied_url(chaos_dependencies.nats_url, proxies["nats"]),
    )
    faults = plan_faults(soak, sorted(proxies))
    record = LoadRecord()
    with chaos_service(dependencies, **SERVICE_SETTINGS) as server, client_for(server) as client:
        tenant = create_tenant(client)
        wait_until(lambda: is_ready(client), what="the service ready before the soak")
        ws_url = server.base_url.replace("http", "ws", 1) + "/ws"
        subscribers = [Subscriber(ws_url, tenant.headers, record) for _ in range(SUBSCRIBERS)]
        stop = threading.Event()
        workers = [
            *(
                threading.Thread(target=writer, args=(client, tenant, str(n), record, stop))
                for n in range(WRITERS)
            ),
            threading.Thread(target=searcher, args=(client, tenant, record, stop)),
            *(threading.Thread(target=sub.follow, args=(stop,)) for sub in subscribers),
        ]
        with FaultSchedule(faults, proxies) as schedule:
            for worker in workers:
                worker.start()
            time.sleep(soak.duration_s)
            stop.set()
            for worker in workers:
                worker.join()
        invariants = _invariants(client, tenant, record, subscribers, chaos_dependencies)
    report = SoakReport(
        soak, tuple(schedule.applied), record.requests, record.outcomes, tuple(invariants)
    )
    _publish(pytestconfig, report, schedule.errors)
    assert not schedule.errors, schedule.errors
    assert report.passed, report.summary()


def _address(endpoint: Endpoint) -> tuple[str, int]:
    address = host_port(endpoint.url)
    assert address is not None, f"{endpoint.service} has no host:port to proxy: {endpoint.url}"
    return address


def _invariants(
    client: httpx.Client,
    tenant: Tenant,
    record: LoadRecord,
    subscribers: list[Subscriber],
    dependencies: Dependencies,
) -> list[InvariantResult]:
    results: list[InvariantResult] = []

    started = time.monotonic()
    wait_until(lambda: is_ready(client), what="readiness after the faults ended")
    results.append(
        InvariantResult(
            "readiness recovered", True, f"ready {time.monotonic() - started:.1f}s after"
        )
    )

    # Refused writes are retried with their key: each must end up stored exactly once.
    retried = sorted(record.refused)
    for key in retried:
        for _ in range(RETRIES):
            if write_once(client, tenant, key, record):
                break
    stored = stored_documents(dependencies.database_url)  # id -> idempotency key
    per_key = Counter(stored.values())
    lost = sorted(set(record.acknowledged.values()) - set(stored))
    results.append(
        InvariantResult(
            "no acknowledged write lost",
            not lost and set(listed_ids(client, tenant)) == set(stored),
            f"{len(record.acknowledged)} acknowledged, {len(stored)} stored, lost: {lost[:5]}",
        )
    )
    twice = sorted(key for key, count in per_key.items() if count > 1)
    never = sorted(set(retried) - set(per_key))
    results.append(
        InvariantResult(
            "refused writes stored exactly once on retry",
            not twice and not never,
            f"{len(retried)} refused then retried; stored twice: {twice[:5]}, never: {never[:5]}",
        )
    )

    wait_until(
        lambda: unpublished_count(dependencies.database_url) == 0,
        what="the relay publishing every event after the faults",
    )
    handled, repeats = deduplicated(
        delivered_events(dependencies.nats_url, dependencies.subject_prefix)
    )
    delivered = Counter(document_ids_of(handled))
    results.append(
        InvariantResult(
            "every event delivered once after deduplication",
            set(delivered) == set(stored) and max(delivered.values(), default=1) == 1,
            f"{len(delivered)} documents delivered for {len(stored)} stored; "
            f"{repeats} repeats dropped by deduplication",
        )
    )

    for subscriber in subscribers:
        subscriber.catch_up(set(stored), timeout=RECOVERY_DEADLINE_SECONDS)
    missing = [len(set(stored) - subscriber.document_ids) for subscriber in subscribers]
    results.append(
        InvariantResult(
            "subscribers saw every document (resuming with ?after=)",
            not any(missing),
            f"{len(subscribers)} subscribers, documents missing: {missing}",
        )
    )
    return results


def _publish(config: pytest.Config, report: SoakReport, errors: list[str]) -> None:
    """The summary on the terminal and in reports/chaos-soak.json."""
    path = Path(config.rootpath) / report_files.CHAOS_SOAK
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**report.to_json(), "fault_errors": errors}, indent=2) + "\n")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # shown even under pytest's output capture
        reporter.write_line("")
        for line in report.summary().splitlines():
            reporter.write_line(line)
        reporter.write_line(f"(also in {report_files.CHAOS_SOAK})")
