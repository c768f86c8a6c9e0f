"""Addresses that refuse connections, for testing how code behaves when a service is down."""

from __future__ import annotations

import socket


def refused_port() -> int:
    """A loopback TCP port with no listener: bound by the OS, then released."""
    # The port could be reused before the caller connects, but the kernel hands out
    # ephemeral ports round-robin, so that needs thousands of binds in between.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
