"""Example chaos tests with the fault proxy in front of the real (shared) Postgres.

fault_proxy(name, (host, port)) puts a proxy between a client and a dependency; point the
client at proxied_url(url, proxy), then break the link with toxics (Toxiproxy's names) or
down(). Every proxy is reset after the test. A client under test needs short timeouts, or a
fault would hang it: that is usually the first thing a chaos test finds.
"""

from __future__ import annotations

import psycopg
import pytest

from testkit.chaos import FaultProxyFactory, proxied_url
from testkit.fixtures import PostgresSchema
from testkit.infra.addresses import host_port


def test_postgres_across_a_blackhole_times_out_then_heals(
    fault_proxy: FaultProxyFactory, postgres_schema: PostgresSchema
) -> None:
    address = host_port(postgres_schema.url)
    if address is None:
        pytest.skip("Postgres is on a Unix socket: nothing to proxy")
    proxy = fault_proxy("postgres", address)
    url = proxied_url(postgres_schema.url, proxy)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE notes (body text)")
        connection.execute("INSERT INTO notes VALUES ('kept')")

    with (
        proxy.toxic("timeout", stream="upstream", timeout=0),
        proxy.toxic("timeout", stream="downstream", timeout=0),
        pytest.raises(psycopg.OperationalError),
    ):
        # Bytes vanish both ways: only the client's own timeout ends the wait.
        psycopg.connect(url, connect_timeout=1)

    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT body FROM notes").fetchall() == [("kept",)]
