"""fd_exhaustion: the service process runs out of file descriptors, then gets them back.

The limit is lowered from outside (prlimit on the running uvicorn's pid, as an operator's
ulimit or a leak would), so the service carries no test-only code: RLIMIT_NOFILE is set to
the lowest free descriptor number, so the process can open nothing new.

Proves: requests that need a new database connection end in a clean 503 with Retry-After
(never a 500, never a cut connection) while the already-open connections keep being served
and the process stays up; with the limit restored the same process serves everything again,
and every acknowledged write is stored while refused ones are created once on retry.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import httpx

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    client_for,
    concurrently,
    create_tenant,
    listed_ids,
    stored_documents,
    write_document,
    write_documents,
)

CONNECTIONS = 6  # client connections opened before the limit drops, one per request


def lowest_free_descriptor(pid: int) -> int:
    used = {int(name) for name in os.listdir(f"/proc/{pid}/fd")}
    return min(set(range(max(used) + 2)) - used)


@contextmanager
def descriptor_limit(pid: int, soft: int) -> Iterator[None]:
    """RLIMIT_NOFILE of another process lowered for the block (needs root or the same user)."""
    original = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, original[1]))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, original)


def test_fd_exhaustion(chaos_dependencies: Dependencies, chaos_service: ServiceStarter) -> None:
    # No relay: its background queries would hold a database connection open at random.
    with (
        chaos_service(
            chaos_dependencies, RELAY_ENABLED="false", uvicorn_args=("--timeout-keep-alive", "60")
        ) as server,
        client_for(server) as setup,
    ):
        tenant = create_tenant(setup)
        before = write_documents(setup, tenant, ["before"])
        clients = [client_for(server) for _ in range(CONNECTIONS)]
        try:
            for client in clients:  # each opens its keep-alive connection now
                assert client.get("/healthz").status_code == 200
            keys = [f"starved-{n}" for n in range(CONNECTIONS)]
            calls: list[Callable[[], httpx.Response]] = [
                partial(write_document, client, tenant, key, key=key)
                for client, key in zip(clients, keys, strict=True)
            ]

            with descriptor_limit(server.pid, lowest_free_descriptor(server.pid)):
                starved = concurrently(calls, what="a write without file descriptors")
                alive = clients[0].get("/healthz")

            # Degraded: clean answers only, at least one 503 for want of a connection.
            statuses = [response.status_code for response in starved]
            assert set(statuses) <= {201, 503}, statuses
            assert 503 in statuses, statuses
            assert all(r.headers["Retry-After"] == "1" for r in starved if r.status_code == 503)
            assert alive.status_code == 200

            # Recovery: the same process and connections serve everything again.
            retried = concurrently(calls)
            assert [response.status_code for response in retried] == [201] * CONNECTIONS
            for first, again in zip(starved, retried, strict=True):
                if first.status_code == 201:
                    assert again.json()["id"] == first.json()["id"]
            fresh = write_document(setup, tenant, "after")
            assert fresh.status_code == 201
        finally:
            for client in clients:
                client.close()

        # No data lost, nothing doubled.
        written = {*before, *(r.json()["id"] for r in retried), fresh.json()["id"]}
        assert len(written) == len(before) + CONNECTIONS + 1
        assert set(listed_ids(setup, tenant)) == written
        assert set(stored_documents(chaos_dependencies.database_url)) == written
