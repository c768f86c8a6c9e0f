"""memory_pressure: the service process may allocate only a little more than it holds.

The bound is set from outside (prlimit RLIMIT_AS on the running uvicorn's pid: what a
container memory limit does, minus the OOM killer's SIGKILL, which api_kill covers), so the
service carries no test-only code. Then clients upload far more than the headroom (chunked
bodies of many MB, which a service buffering bodies would have to hold) while ordinary writes
go on beside them.

Proves: the oversized uploads end in a clean 413 (the body limit counts bytes as they
arrive, so memory stays bounded whatever is sent), ordinary writes succeed or get a clean
503 (a MemoryError becomes 503 with Retry-After), the process survives, and with the bound
lifted it serves everything; every acknowledged write is stored whole, refused ones once.

Found on the way: a tight limit (a few MB) makes pydantic-core, a Rust extension, abort the
process on a failed allocation; no handler can turn that into a response, which is why the
body limit (not an exception handler) is what keeps memory bounded.
"""

from __future__ import annotations

import resource
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from _fixtures.chaos import (
    REQUEST_DEADLINE_SECONDS,
    Dependencies,
    ServiceStarter,
    Tenant,
    client_for,
    concurrently,
    create_tenant,
    database_rows,
    listed_ids,
    write_documents,
)
from testkit.server import RunningServer

HEADROOM_BYTES = 32 * 1024 * 1024
UPLOAD_BYTES = 128 * 1024 * 1024  # each: four times the headroom
UPLOADS = 3
WRITES = 6
CHUNK = b"x" * 65_536


def address_space(pid: int) -> int:
    """The process's current virtual size in bytes (VmSize)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmSize in /proc/{pid}/status")


@contextmanager
def memory_limit(pid: int, soft: int) -> Iterator[None]:
    original = resource.prlimit(pid, resource.RLIMIT_AS)
    resource.prlimit(pid, resource.RLIMIT_AS, (soft, original[1]))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_AS, original)


def oversized_upload(server: RunningServer, tenant: Tenant) -> int:
    """POST a chunked body of UPLOAD_BYTES over a raw socket; the status the server answers.

    Raw, because an HTTP client finishes sending before it reads, and the server answers
    (and stops reading) long before the body ends.
    """
    address = urlsplit(server.base_url)
    assert address.hostname is not None
    assert address.port is not None
    head = (
        "POST /documents HTTP/1.1\r\nHost: service\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {tenant.headers['X-API-Key']}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection(
        (address.hostname, address.port), timeout=REQUEST_DEADLINE_SECONDS
    ) as connection:
        connection.sendall(head.encode())

        def stream() -> None:
            frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
            try:
                for _ in range(UPLOAD_BYTES // len(CHUNK)):
                    connection.sendall(frame)
            except OSError:
                pass  # the server answered and closed: the point of the exercise

        sender = threading.Thread(target=stream, daemon=True)
        sender.start()
        status_line = connection.makefile("rb").readline()
        connection.shutdown(socket.SHUT_RDWR)
        sender.join(REQUEST_DEADLINE_SECONDS)
    return int(status_line.split()[1])


def test_memory_pressure(chaos_dependencies: Dependencies, chaos_service: ServiceStarter) -> None:
    with chaos_service(chaos_dependencies) as server, client_for(server) as client:
        tenant = create_tenant(client)
        before = write_documents(client, tenant, ["before"])
        keys = [f"pressed-{n}" for n in range(WRITES)]
        bodies = {key: f"{key}: " + "lorem ipsum dolor sit amet " * 2_000 for key in keys}

        def write(key: str) -> httpx.Response:
            headers = {**tenant.headers, "Idempotency-Key": key}
            document = {"title": key, "body": bodies[key]}
            return client.post("/documents", json=document, headers=headers)

        calls: list[Callable[[], httpx.Response]] = [partial(write, key) for key in keys]
        pid = server.pid
        with (
            memory_limit(pid, address_space(pid) + HEADROOM_BYTES),
            ThreadPoolExecutor(UPLOADS) as uploads,
        ):
            refused = [uploads.submit(oversized_upload, server, tenant) for _ in range(UPLOADS)]
            pressed = concurrently(calls, what="a write under memory pressure")
            upload_statuses = [future.result() for future in refused]
            alive = client.get("/healthz")

        # Degraded but bounded: uploads refused, writes answered, the process still there.
        assert upload_statuses == [413] * UPLOADS
        statuses = [response.status_code for response in pressed]
        assert set(statuses) <= {201, 503}, statuses
        assert all(r.headers["Retry-After"] == "1" for r in pressed if r.status_code == 503)
        assert alive.status_code == 200
        assert Path(f"/proc/{pid}").exists()

        # Recovery: the same process takes every write.
        retried = concurrently(calls)
        assert [response.status_code for response in retried] == [201] * WRITES
        for first, again in zip(pressed, retried, strict=True):
            if first.status_code == 201:
                assert again.json()["id"] == first.json()["id"]
        written = {*before, *(response.json()["id"] for response in retried)}
        assert set(listed_ids(client, tenant)) == written

    # No data lost, nothing torn: each stored body is exactly what was sent.
    rows = database_rows(
        chaos_dependencies.database_url,
        "SELECT idempotency_key, body FROM documents WHERE idempotency_key IS NOT NULL",
    )
    assert dict(rows) == bodies
