"""Waiting until a freshly started service really answers; a timeout reports the last error."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from testkit.infra.protocol import SourceStartError


def wait_until_ready(check: Callable[[], None], *, what: str, timeout: float = 60.0) -> None:
    """Call check() until it stops raising; SourceStartError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
        except Exception as error:  # any failure means "not ready yet"; the last one is reported
            if time.monotonic() >= deadline:
                raise SourceStartError(f"{what} not ready after {timeout:.0f}s: {error}") from error
            time.sleep(0.2)
        else:
            return


def postgres_answers(url: str) -> Callable[[], None]:
    def check() -> None:
        import psycopg

        with psycopg.connect(url, connect_timeout=2) as connection:
            connection.execute("SELECT 1")

    return check


def redis_answers(url: str) -> Callable[[], None]:
    def check() -> None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2)
        try:
            if not client.ping():
                raise RuntimeError("PING was not answered")
        finally:
            client.close()

    return check


def nats_answers(host: str, port: int) -> Callable[[], None]:
    """NATS greets every client with an INFO line; reading it proves the server is serving."""

    def check() -> None:
        with socket.create_connection((host, port), timeout=2) as connection:
            greeting = connection.recv(4096)
        if not greeting.startswith(b"INFO "):
            raise RuntimeError(f"unexpected greeting {greeting[:40]!r}")

    return check
