"""Killable servers: PostgreSQL, Redis and NATS of one test's own, which it may SIGKILL and restart.

A chaos scenario must crash a dependency the way production does (OOM killer, node loss:
SIGKILL, no shutdown hook) and bring it back on the same port and data directory, so the
service under test reconnects to "the same" server. The shared servers (5432/6379/4222, or
whatever testkit resolved) are never touched: each server here is a fresh process on a free
loopback port with its own temporary directory (testkit.infra.server_recipes builds it,
testkit.infra.server_processes runs it).

``kill()`` is SIGKILL to the server and every child process: the postmaster and all its
backends die at once, as in a real crash.

Durability is what a real server would keep after a process crash: PostgreSQL keeps
``synchronous_commit=on`` (fsync stays off: page-cache writes survive SIGKILL, only a kernel
crash would lose them), Redis runs with ``appendonly yes`` and ``appendfsync always``, NATS
keeps JetStream on its file store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from testkit.infra.server_processes import KillableServer, ServerKind, ServerUnavailable
from testkit.infra.server_recipes import started

__all__ = [
    "KillableServer",
    "ServerKind",
    "ServerUnavailable",
    "ephemeral",
    "ephemeral_nats",
    "ephemeral_postgres",
    "ephemeral_redis",
]


@contextlib.contextmanager
def ephemeral(kind: ServerKind) -> Iterator[KillableServer]:
    """A started server of ``kind`` that keeps what a crash would; removed on exit."""
    server = started(kind, durable=True)
    try:
        yield server
    finally:
        server.remove()


def ephemeral_postgres() -> contextlib.AbstractContextManager[KillableServer]:
    return ephemeral("postgres")


def ephemeral_redis() -> contextlib.AbstractContextManager[KillableServer]:
    return ephemeral("redis")


def ephemeral_nats() -> contextlib.AbstractContextManager[KillableServer]:
    return ephemeral("nats")
