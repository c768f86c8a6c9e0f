"""The fault proxy's toxics, byte by byte, in front of a real TCP echo server.

An echo server is the simplest real upstream: what comes back is exactly what went through
the proxy twice, so lost, reordered or extra bytes show. Durations are only bounded below
(a toxic must slow things down at least this much); an upper bound would be a flaky test.
Tests use the `fault_proxy` fixture, so with TOXIPROXY_URL set they run against Toxiproxy;
the ones about the in-process proxy's own lifecycle build an InProcessProxy directly.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from testkit.chaos import InProcessProxy, Proxy, ProxyPool, choose_backend, proxied_url
from testkit.chaos.plugin import FaultProxyFactory


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        connection: socket.socket = self.request
        try:
            while data := connection.recv(65536):
                connection.sendall(data)
        except OSError:
            pass  # the proxy reset or cut the connection: that is what these tests do


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def echo_address() -> Iterator[tuple[str, int]]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, name="echo-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def echo(fault_proxy: FaultProxyFactory, echo_address: tuple[str, int]) -> Proxy:
    return fault_proxy("echo", echo_address)


def _connect(proxy: Proxy, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(proxy.address, timeout=timeout)


def _read_to_end(connection: socket.socket) -> bytes:
    received = bytearray()
    while data := connection.recv(65536):
        received += data
    return bytes(received)


def _round_trip(proxy: Proxy, payload: bytes) -> bytes:
    """Send everything, half-close, read until the server's close comes back through."""
    with _connect(proxy) as connection:
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)
        return _read_to_end(connection)


def _timed_round_trip(proxy: Proxy, payload: bytes) -> tuple[bytes, float]:
    started = time.monotonic()
    received = _round_trip(proxy, payload)
    return received, time.monotonic() - started


def test_a_proxy_without_toxics_passes_every_byte_both_ways(echo: Proxy) -> None:
    payload = os.urandom(300_000)

    assert _round_trip(echo, payload) == payload


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_latency_delays_the_data_in_its_direction(echo: Proxy, stream: str) -> None:
    with echo.toxic("latency", stream=stream, latency=200):
        received, elapsed = _timed_round_trip(echo, b"ping")

    assert received == b"ping"
    assert elapsed >= 0.2


def test_latency_with_jitter_still_delays_by_at_least_latency_minus_jitter(echo: Proxy) -> None:
    with echo.toxic("latency", latency=150, jitter=50):
        received, elapsed = _timed_round_trip(echo, b"ping")

    assert received == b"ping"
    assert elapsed >= 0.1


def test_a_toxic_added_to_an_open_connection_acts_on_it(echo: Proxy) -> None:
    with _connect(echo) as connection:
        connection.sendall(b"before")
        assert connection.recv(100) == b"before"
        with echo.toxic("latency", latency=200):
            started = time.monotonic()
            connection.sendall(b"during")
            assert connection.recv(100) == b"during"
            assert time.monotonic() - started >= 0.2


def test_bandwidth_bounds_the_throughput(echo: Proxy) -> None:
    payload = os.urandom(50_000)

    with echo.toxic("bandwidth", rate=100):  # 100 KB/s: 50 KB take at least 0.5 s
        received, elapsed = _timed_round_trip(echo, payload)

    assert received == payload
    assert elapsed >= 0.45


def test_slicer_delivers_every_byte_in_order(echo: Proxy) -> None:
    payload = os.urandom(50_000)

    with echo.toxic("slicer", average_size=64, size_variation=32, delay=10):
        assert _round_trip(echo, payload) == payload


def test_slicer_hands_the_data_over_in_pieces(echo: Proxy) -> None:
    with echo.toxic("slicer", average_size=10, delay=20_000), _connect(echo) as connection:
        connection.sendall(b"y" * 200)
        first = connection.recv(4096)  # returns with the first ~10-byte piece, 20 ms apart
        received = first
        while len(received) < 200 and (more := connection.recv(4096)):
            received += more

    assert 0 < len(first) < 200
    assert received == b"y" * 200


def test_limit_data_passes_that_many_bytes_then_closes(echo: Proxy) -> None:
    with echo.toxic("limit_data", bytes=10):
        assert _round_trip(echo, b"0123456789abcdef") == b"0123456789"


def test_timeout_zero_holds_the_data_until_the_toxic_is_removed(echo: Proxy) -> None:
    with _connect(echo, timeout=0.5) as connection:
        with echo.toxic("timeout", timeout=0):
            connection.sendall(b"lost")
            with pytest.raises(TimeoutError):
                connection.recv(100)
        # Like Toxiproxy, what arrived meanwhile is dropped; the connection itself lives on.
        connection.sendall(b"after")
        assert connection.recv(100) == b"after"


def test_timeout_closes_the_connection_after_its_time_without_passing_data(echo: Proxy) -> None:
    with echo.toxic("timeout", timeout=300), _connect(echo) as connection:
        started = time.monotonic()
        connection.sendall(b"lost")
        assert _read_to_end(connection) == b""
        assert time.monotonic() - started >= 0.25


def test_reset_peer_makes_the_client_see_a_connection_reset(echo: Proxy) -> None:
    with echo.toxic("reset_peer", timeout=200), _connect(echo) as connection:
        started = time.monotonic()
        connection.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            connection.recv(100)
        assert time.monotonic() - started >= 0.2


def test_slow_close_delays_the_close_but_not_the_data(echo: Proxy) -> None:
    with echo.toxic("slow_close", delay=300):
        received, elapsed = _timed_round_trip(echo, b"bye")

    assert received == b"bye"
    assert elapsed >= 0.3


def test_toxicity_zero_never_applies_and_one_always_does(echo: Proxy) -> None:
    with echo.toxic("limit_data", bytes=0, toxicity=0.0):
        assert all(_round_trip(echo, b"ok") == b"ok" for _ in range(20))
    with echo.toxic("limit_data", bytes=0, toxicity=1.0):
        assert all(_round_trip(echo, b"ok") == b"" for _ in range(5))


def test_down_refuses_new_connections_cuts_open_ones_and_up_restores(echo: Proxy) -> None:
    with _connect(echo) as open_connection:
        open_connection.sendall(b"up")
        assert open_connection.recv(100) == b"up"
        with echo.down():
            assert not echo.enabled
            with pytest.raises(ConnectionRefusedError):
                _connect(echo)
            try:
                cut = open_connection.recv(100)
            except ConnectionResetError:
                cut = b""
            assert cut == b""

    assert echo.enabled
    assert _round_trip(echo, b"back") == b"back"


def test_reset_removes_every_toxic_and_enables_the_proxy(echo: Proxy) -> None:
    echo.add_toxic("latency", latency=1000)
    echo.add_toxic("limit_data", stream="upstream", bytes=0)
    echo.disable()

    echo.reset()

    assert echo.toxics() == []
    assert echo.enabled
    assert _round_trip(echo, b"clean") == b"clean"


def test_toxic_names_are_unique_per_proxy(echo: Proxy) -> None:
    with echo.toxic("latency", latency=1):
        with pytest.raises(ValueError, match="already has a toxic named 'latency_downstream'"):
            echo.add_toxic("latency", latency=2)
        with echo.toxic("latency", latency=2, name="second"):
            assert [toxic.name for toxic in echo.toxics()] == ["latency_downstream", "second"]

    with pytest.raises(ValueError, match="has no toxic 'nope'"):
        echo.remove_toxic("nope")


def test_a_refused_upstream_closes_the_client_connection() -> None:
    with socket.socket() as unused:  # bound, never listening: connecting to it is refused
        unused.bind(("127.0.0.1", 0))
        with InProcessProxy("dead", unused.getsockname()[:2]) as proxy:
            with _connect(proxy) as connection:
                try:
                    received = connection.recv(100)
                except ConnectionResetError:
                    received = b""
            assert received == b""


def test_close_stops_the_thread_and_the_listener_and_is_idempotent(
    echo_address: tuple[str, int],
) -> None:
    proxy = InProcessProxy("short-lived", echo_address)
    open_connection = _connect(proxy)
    threads = [thread for thread in threading.enumerate() if "short-lived" in thread.name]

    proxy.close()
    proxy.close()

    with open_connection, contextlib.suppress(ConnectionResetError):
        assert open_connection.recv(100) == b""
    assert threads
    assert not any(thread.is_alive() for thread in threads)
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy)
    with pytest.raises(RuntimeError, match="fault proxy 'short-lived' is closed"):
        proxy.add_toxic("latency", latency=1)


def test_proxied_url_swaps_host_and_port_and_keeps_the_rest(echo: Proxy) -> None:
    url = "postgresql://app:secret@db.internal:5432/appdb?sslmode=disable"

    assert proxied_url(url, echo) == (
        f"postgresql://app:secret@127.0.0.1:{echo.listen_port}/appdb?sslmode=disable"
    )
    assert proxied_url("redis://localhost/0", echo) == f"redis://127.0.0.1:{echo.listen_port}/0"
    with pytest.raises(ValueError, match="has no host:port"):
        proxied_url("postgresql:///appdb?host=/run/postgresql", echo)


def test_a_port_in_use_is_a_one_line_error_and_leaves_no_thread(
    echo_address: tuple[str, int],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as raised:
            InProcessProxy("clash", echo_address, listen_port=port)

    assert str(raised.value) == (
        f"fault proxy 'clash' cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert not [thread for thread in threading.enumerate() if thread.name.endswith("-clash")]


def test_the_pool_keeps_one_proxy_per_name_and_replaces_it_for_a_new_upstream(
    echo_address: tuple[str, int],
) -> None:
    pool = ProxyPool(choose_backend(None))
    first = pool.get("dependency", echo_address)

    assert pool.get("dependency", echo_address) is first
    replacement = pool.get("dependency", ("127.0.0.1", 9))
    assert replacement is not first
    with pytest.raises(RuntimeError, match="is closed"):
        first.toxics()

    pool.close_all()
    with pytest.raises(RuntimeError, match="is closed"):
        replacement.toxics()
