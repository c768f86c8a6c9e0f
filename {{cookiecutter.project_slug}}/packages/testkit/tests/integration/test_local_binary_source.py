"""The local-binary source for real: each server starts from its binary, answers, carries no
mirakuru marker, survives kill() with restart() on its port, and leaves nothing behind.

Each test starts servers of its own (skipped with the reason when a binary is missing) and never
touches the shared ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.infra.local_binary import LocalBinarySource, LocalServer
from testkit.infra.protocol import SERVICES, ProbeStatus, Service
from testkit.infra.readiness import nats_answers, postgres_answers, redis_answers
from testkit.infra.server_processes import HOST, child_pids


@pytest.fixture(params=SERVICES)
def local_server(request: pytest.FixtureRequest) -> Iterator[LocalServer]:
    service: Service = request.param
    source = LocalBinarySource()
    probe = source.probe(service)
    if probe.status is not ProbeStatus.AVAILABLE:
        pytest.skip(f"local {service} unavailable: {probe.reason}")
    server = source.start(service)
    try:
        yield server
    finally:
        server.stop()


def _answers(server: LocalServer) -> None:
    """A real request with the service's own client; raises when the server does not answer."""
    if server.endpoint.service == "postgres":
        pytest.importorskip("psycopg")
        postgres_answers(server.endpoint.url)()
    elif server.endpoint.service == "redis":
        pytest.importorskip("redis")
        redis_answers(server.endpoint.url)()
    else:
        nats_answers(HOST, server.process.port)()


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_the_server_answers_at_the_endpoint_the_header_describes(local_server: LocalServer) -> None:
    endpoint = local_server.endpoint

    _answers(local_server)
    assert endpoint.source == "local-binary"
    assert endpoint.url == local_server.process.url
    assert f"{local_server.process.binary} in {local_server.process.workdir}" in endpoint.detail


def test_no_process_of_the_server_carries_a_mirakuru_marker(local_server: LocalServer) -> None:
    # mirakuru's exit handler SIGKILLs every process whose mirakuru_uuid contains the exiting
    # Python's pid (testkit.infra.server_processes): a server with the marker could be killed
    # by any pytest on the machine, one without it cannot.
    pid = local_server.process.pid
    assert pid is not None
    for process in [pid, *child_pids(pid)]:
        try:
            environ = Path(f"/proc/{process}/environ").read_bytes().split(b"\0")
        # a backend or worker that exited since it was listed (ENOENT, or ESRCH mid-exit)
        except (FileNotFoundError, ProcessLookupError):
            assert process != pid, "the server itself exited"
            continue
        assert not [variable for variable in environ if variable.startswith(b"mirakuru_uuid=")]


def test_a_killed_server_restarts_on_its_port(local_server: LocalServer) -> None:
    port, pid = local_server.process.port, local_server.process.pid
    assert pid is not None

    local_server.kill()
    assert not _alive(pid)
    local_server.restart()

    assert local_server.process.port == port
    _answers(local_server)


def test_stop_ends_the_server_and_removes_its_directory(local_server: LocalServer) -> None:
    pid, workdir = local_server.process.pid, local_server.process.workdir
    assert pid is not None
    assert workdir.is_dir()

    local_server.stop()

    assert not _alive(pid)
    assert not workdir.exists()
