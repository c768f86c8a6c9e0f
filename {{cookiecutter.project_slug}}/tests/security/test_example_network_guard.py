"""testkit's MOCK-mode network guard: a test cannot reach, or even look up, outside hosts.

Security of the suite itself: a test that leaks data or calls a paid API by accident fails
instead. Runs in every bake, with or without the sample service.
"""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError

from testkit.modes import ModeConfig
from testkit.network import NetworkBlockedError


@pytest.fixture
def network_blocked(test_mode: ModeConfig) -> None:
    if not test_mode.block_network:
        pytest.skip(
            f"the network guard is on in MOCK mode only, this run is {test_mode.mode.value}"
        )


@pytest.mark.usefixtures("network_blocked")
def test_connecting_to_an_outside_address_is_refused_before_any_packet() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(SocketConnectBlockedError),
    ):
        # 203.0.113.0/24 is reserved for documentation: nothing would answer anyway.
        sock.connect(("203.0.113.7", 443))


@pytest.mark.usefixtures("network_blocked")
def test_looking_up_an_outside_name_is_refused() -> None:
    with pytest.raises(NetworkBlockedError, match="blocked resolving host"):
        socket.getaddrinfo("exfiltrate.example.com", 443)


@pytest.mark.usefixtures("network_blocked")
def test_loopback_stays_reachable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
