"""The random-fault chaos soak (`make chaos-soak`): a steady load while random faults come and go.

Postgres, Redis and NATS each sit behind a fault proxy; every second, with probability
CHAOS_PROBABILITY, a random fault of the proxy's vocabulary (down, latency, timeout, reset_peer,
bandwidth, slicer, limit_data) starts on a random one for half a second to three, for
CHAOS_DURATION seconds in all, while writers, URL ingests (sagas), searchers and WebSocket
subscribers run. The
schedule comes from CHAOS_SEED (default: the session's seed), printed with the summary, so a
failing soak is replayed fault for fault.

Afterwards, on a healthy system, it checks the invariants: readiness recovered; no
acknowledged write or ingest lost; every write retried after a refusal stored exactly once;
every ingest saga finished (completed, or compensated without a trace); every
stored document's event delivered by JetStream once after deduplication; the projection
consumer counted every document once and dead-lettered nothing; every subscriber, resuming
with ?after=, saw every document. It runs only when asked (CHAOS_ENABLED=1, which
`make chaos-soak` sets): it takes as long as CHAOS_DURATION says.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from _fixtures.chaos import (
    RECOVERY_DEADLINE_SECONDS,
    Dependencies,
    ServiceStarter,
    Tenant,
    client_for,
    create_tenant,
    database_rows,
    deduplicated,
    delivered_events,
    document_ids_of,
    is_ready,
    listed_ids,
    unpublished_count,
    wait_until,
)
from _fixtures.soak_load import (
    LoadRecord,
    Subscriber,
    ingester,
    searcher,
    write_once,
    writer,
)
from _helpers.web_doubles import LoopbackSite, Page
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
FINISHED_SAGAS = {"completed", "compensated"}
SERVICE_SETTINGS = {
    # Short timeouts, so a request caught by a fault ends (503) instead of waiting it out.
    "DB_CONNECT_TIMEOUT_SECONDS": "1",
    "REQUEST_TIMEOUT_SECONDS": "3",
    "DB_POOL_TIMEOUT_SECONDS": "2",
    # URL ingests of the loopback page; sagas a fault left unfinished are compensated by the
    # sweep once idle this long (above the request timeout, as the service requires).
    "INGEST_ALLOWED_HOSTS": "127.0.0.1",
    "SAGA_RECOVERY_INTERVAL_SECONDS": "0.5",
    "SAGA_STALE_AFTER_SECONDS": "5",
}
# The page the ingests fetch: slow enough that faults catch some sagas mid-way.
PAGE = Page(b"<title>Soak</title><p>the soak quoll</p>", delay_seconds=0.3)


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
    loopback_site: LoopbackSite,
) -> None:
    loopback_site.pages["/soak"] = PAGE
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
            threading.Thread(
                target=ingester,
                args=(client, tenant, loopback_site.url("/soak"), record, stop),
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
    results.append(_sagas_finished(dependencies.database_url, tenant, record))
    stored = _ready_documents(dependencies.database_url, tenant)  # id -> idempotency key
    per_key = Counter(key for key in stored.values() if key is not None)
    acknowledged = set(record.acknowledged.values()) | record.ingested
    lost = sorted(acknowledged - set(stored))
    results.append(
        InvariantResult(
            "no acknowledged write or ingest lost",
            not lost and set(listed_ids(client, tenant)) == set(stored),
            f"{len(record.acknowledged)} writes and {len(record.ingested)} ingests acknowledged, "
            f"{len(stored)} stored, lost: {lost[:5]}",
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

    # The projection consumer: a database or NATS fault is retried, never dead-lettered, and
    # every event is counted once (this tenant's rows only: other scenarios share the table).
    counted = _projection_created(dependencies.database_url, tenant, len(stored))
    dead = database_rows(
        dependencies.database_url,
        f"SELECT count(*) FROM dead_letters WHERE subject LIKE '%{tenant.id}%'",
    )[0][0]
    results.append(
        InvariantResult(
            "projection counted every document once, nothing dead-lettered",
            counted == len(stored) and dead == 0,
            f"projection: {counted} created for {len(stored)} stored; dead letters: {dead}",
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


def _settled(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """`read()` once `done` says so, or its last value when the recovery deadline passes."""
    deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _projection_created(database_url: str, tenant: Tenant, expected: int) -> int:
    """The tenant's documents_created once it reaches `expected` or the deadline passes."""
    query = f"SELECT documents_created FROM document_projection WHERE tenant_id = '{tenant.id}'"

    def counted() -> int:
        rows = database_rows(database_url, query)
        return int(rows[0][0]) if rows else 0

    return int(_settled(counted, lambda value: value == expected))


def _ready_documents(database_url: str, tenant: Tenant) -> dict[str, str | None]:
    """Document id -> idempotency key of the tenant's documents (ready: listed and searched)."""
    rows = database_rows(
        database_url,
        "SELECT id::text, idempotency_key FROM documents "
        f"WHERE tenant_id = '{tenant.id}' AND status = 'ready'",
    )
    return {row[0]: row[1] for row in rows}


def _sagas_finished(database_url: str, tenant: Tenant, record: LoadRecord) -> InvariantResult:
    """Every ingest saga completed or compensated (the sweep finishes those a fault left), each
    acknowledged ingest's saga completed, and no half-ingested document or chunk remains."""
    query = f"SELECT status, document_id::text FROM ingest_sagas WHERE tenant_id = '{tenant.id}'"
    sagas: list[tuple[str, str | None]] = _settled(
        lambda: database_rows(database_url, query),
        lambda rows: all(status in FINISHED_SAGAS for status, _ in rows),
    )
    statuses = Counter(status for status, _ in sagas)
    completed = {document for status, document in sagas if status == "completed"}
    leftovers = database_rows(
        database_url,
        "SELECT (SELECT count(*) FROM documents WHERE status = 'pending' "
        f"AND tenant_id = '{tenant.id}'), (SELECT count(*) FROM document_chunks c JOIN "
        f"documents d ON d.id = c.document_id WHERE d.status <> 'ready' AND d.tenant_id = "
        f"'{tenant.id}')",
    )[0]
    return InvariantResult(
        "every ingest saga finished, nothing half-ingested",
        set(statuses) <= FINISHED_SAGAS and record.ingested <= completed and leftovers == (0, 0),
        f"sagas {dict(sorted(statuses.items()))}; {len(record.ingested)} acknowledged ingests, "
        f"{len(record.ingested - completed)} without a completed saga; pending documents and "
        f"chunks of unready ones: {leftovers}",
    )


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
