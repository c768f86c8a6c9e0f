"""Killable servers for real: SIGKILL, restart on the same port and data dir, data survives.

Each test starts its own server from the installed binary (skipped with the reason when it
is missing) and never touches the shared ones.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from testkit.chaos.servers import KillableServer


def _assert_gone(pid: int) -> None:
    """Dead: no such process, or a zombie waiting for a reaper (its parent died with it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return
    assert "State:\tZ" in status, f"process {pid} is still alive"


def test_postgres_is_killed_with_its_backends_and_restarts_with_its_rows(
    ephemeral_postgres: KillableServer,
) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(ephemeral_postgres.url, autocommit=True) as connection:
        connection.execute("CREATE TABLE kept (n int)")
        connection.execute("INSERT INTO kept SELECT generate_series(1, 10)")
        backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
        pid, port = ephemeral_postgres.pid, ephemeral_postgres.port
        assert pid is not None

        ephemeral_postgres.kill()

    assert not ephemeral_postgres.running
    _assert_gone(pid)
    _assert_gone(backend)  # the whole process group died: a crash, not a shutdown
    ephemeral_postgres.start()
    assert (ephemeral_postgres.port, ephemeral_postgres.running) == (port, True)
    with psycopg.connect(ephemeral_postgres.url) as connection:
        assert connection.execute("SELECT count(*) FROM kept").fetchone() == (10,)


def test_redis_replays_its_append_only_file_after_a_kill(ephemeral_redis: KillableServer) -> None:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(ephemeral_redis.url)
    try:
        for n in range(50):
            client.set(f"key:{n}", n)
        ephemeral_redis.kill()
        ephemeral_redis.start()
        assert [int(client.get(f"key:{n}")) for n in range(50)] == list(range(50))
    finally:
        client.close()


def test_nats_keeps_jetstream_messages_across_a_kill(ephemeral_nats: KillableServer) -> None:
    nats = pytest.importorskip("nats")

    async def publish() -> None:
        client = await nats.connect(ephemeral_nats.url)
        jetstream = client.jetstream()
        await jetstream.add_stream(name="KEPT", subjects=["kept.>"])
        for n in range(20):
            await jetstream.publish(f"kept.{n}", str(n).encode())
        await client.close()

    async def stored() -> int:
        client = await nats.connect(ephemeral_nats.url)
        info = await client.jetstream().stream_info("KEPT")
        await client.close()
        return int(info.state.messages)

    asyncio.run(publish())
    ephemeral_nats.kill()
    ephemeral_nats.start()
    assert asyncio.run(stored()) == 20


def test_kill_of_a_stopped_server_says_so(ephemeral_redis: KillableServer) -> None:
    ephemeral_redis.kill()
    with pytest.raises(RuntimeError, match="is not running"):
        ephemeral_redis.kill()
