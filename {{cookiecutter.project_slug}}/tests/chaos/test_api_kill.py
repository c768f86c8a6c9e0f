"""api_kill: the service process is SIGKILLed in the middle of a burst of writes.

Proves: a crash never leaves a partial write (every stored document has its one outbox
event, no event points at a missing document), requests cut by the crash fail at the client
(the degraded part), and after a restart, retrying every request with its Idempotency-Key
creates each document exactly once: the count and the ids match what was acknowledged.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    Tenant,
    client_for,
    create_tenant,
    created_events,
    listed_ids,
    stored_documents,
    write_document,
)

BURST = 60
CONCURRENCY = 6
KILL_AFTER = 10  # acknowledged writes before the kill: the burst is surely mid-flight


def test_api_kill(chaos_dependencies: Dependencies, chaos_service: ServiceStarter) -> None:
    keys = [f"burst-{n:03d}" for n in range(BURST)]
    acknowledged: dict[str, str] = {}  # idempotency key -> document id of a 201
    cut: list[str] = []
    lock = threading.Lock()

    with chaos_service(chaos_dependencies) as server, client_for(server) as setup_client:
        tenant = create_tenant(setup_client)

        def send(key: str, client: httpx.Client, tenant: Tenant = tenant) -> None:
            try:
                response = write_document(client, tenant, key, key=key)
            except httpx.TransportError:
                with lock:
                    cut.append(key)
                return
            with lock:
                if response.status_code == 201:
                    acknowledged[key] = response.json()["id"]
                    if len(acknowledged) == KILL_AFTER:
                        os.kill(server.pid, signal.SIGKILL)
                else:
                    cut.append(key)

        with client_for(server) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(lambda key: send(key, client), keys))

    # Degraded: the crash cut requests short.
    assert cut, "the kill landed after the burst: no request was cut"
    assert len(acknowledged) >= KILL_AFTER

    # No partial rows: each stored document has exactly one created event, and back.
    database_url = chaos_dependencies.database_url
    stored = stored_documents(database_url)
    events = Counter(document_id for _, document_id in created_events(database_url))
    assert events == Counter(set(stored)), "a document without its event, or the reverse"

    # Recovery: a new process; every request retried with its key.
    with chaos_service(chaos_dependencies) as server, client_for(server) as client:
        retried: dict[str, str] = {}
        for key in keys:
            response = write_document(client, tenant, key, key=key)
            assert response.status_code == 201, response.text
            retried[key] = response.json()["id"]
            replayed = response.headers.get("Idempotent-Replayed") == "true"
            assert replayed == (key in stored.values()), key
        listed = listed_ids(client, tenant)

    # No data lost, nothing doubled: one document per key, the acknowledged ids unchanged.
    assert {key: retried[key] for key in acknowledged} == acknowledged
    assert sorted(listed) == sorted(retried.values())
    final = stored_documents(database_url)
    assert len(final) == BURST
    assert sorted(final.values()) == sorted(keys)
