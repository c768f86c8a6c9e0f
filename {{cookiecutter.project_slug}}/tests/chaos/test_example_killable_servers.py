"""Example chaos tests with killable servers: crash a dependency, bring it back, data kept.

ephemeral_postgres (also ephemeral_redis, ephemeral_nats) is a server of this test's own,
never the shared one: kill() is SIGKILL, start() restarts on the same port and data
directory. Write your own scenario the same way: arrange, kill, assert the degraded
behaviour, start, assert recovery and that nothing acknowledged was lost.
"""

from __future__ import annotations

import psycopg
import pytest

from testkit.chaos.servers import KillableServer


def test_postgres_keeps_committed_rows_across_a_crash(ephemeral_postgres: KillableServer) -> None:
    with psycopg.connect(ephemeral_postgres.url, autocommit=True) as connection:
        connection.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        connection.execute("INSERT INTO orders SELECT generate_series(1, 100)")
        port = ephemeral_postgres.port

        ephemeral_postgres.kill()

        with pytest.raises(psycopg.OperationalError):
            connection.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(ephemeral_postgres.url, connect_timeout=2)

    ephemeral_postgres.start()

    assert ephemeral_postgres.port == port
    with psycopg.connect(ephemeral_postgres.url) as connection:
        rows = connection.execute("SELECT count(*), sum(id) FROM orders").fetchone()
    assert rows == (100, 5050)
