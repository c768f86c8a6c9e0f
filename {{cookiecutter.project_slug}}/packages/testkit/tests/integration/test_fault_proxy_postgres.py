"""The fault proxy in front of real PostgreSQL, driven by psycopg.

What a chaos scenario relies on: a toxic shows up in the client as the error production would
raise (a timeout, a reset, a refused connection), and removing it brings the database back.
Durations are only bounded below; connects are bounded by connect_timeout.
"""

from __future__ import annotations

import time

import pytest

from testkit.chaos import Proxy, proxied_url
from testkit.chaos.plugin import FaultProxyFactory
from testkit.fixtures import Endpoint
from testkit.infra.addresses import host_port

pytest.importorskip("psycopg")

import psycopg


def _upstream(endpoint: Endpoint) -> tuple[str, int]:
    address = host_port(endpoint.url)
    if address is None:
        pytest.skip(f"{endpoint.service} is on a Unix socket: nothing to proxy")
    return address


@pytest.fixture
def postgres_proxy(fault_proxy: FaultProxyFactory, postgres_server: Endpoint) -> Proxy:
    return fault_proxy("postgres", _upstream(postgres_server))


@pytest.fixture
def postgres_url(postgres_proxy: Proxy, postgres_server: Endpoint) -> str:
    return proxied_url(postgres_server.url, postgres_proxy)


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    # connect_timeout bounds the handshake (libpq's minimum is 2 s); autocommit keeps a failed
    # statement from leaving a transaction open on the server.
    return psycopg.connect(url, connect_timeout=2, autocommit=True)


def test_postgres_latency_adds_at_least_the_toxics_delay(
    postgres_proxy: Proxy, postgres_url: str
) -> None:
    with _connect(postgres_url) as connection, postgres_proxy.toxic("latency", latency=200):
        started = time.monotonic()
        assert connection.execute("SELECT 1").fetchone() == (1,)
        assert time.monotonic() - started >= 0.2


def test_postgres_timeout_zero_makes_the_connect_timeout_fire(
    postgres_proxy: Proxy, postgres_url: str
) -> None:
    with postgres_proxy.toxic("timeout", timeout=0):
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            _connect(postgres_url)
        assert time.monotonic() - started >= 1.5

    with _connect(postgres_url) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_postgres_reset_peer_breaks_the_open_connection(
    postgres_proxy: Proxy, postgres_url: str
) -> None:
    with _connect(postgres_url) as connection:
        with postgres_proxy.toxic("reset_peer"), pytest.raises(psycopg.OperationalError):
            connection.execute("SELECT 1")
        assert connection.closed

    with _connect(postgres_url) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_postgres_limit_data_and_slicer_through_a_real_query(
    postgres_proxy: Proxy, postgres_url: str
) -> None:
    with _connect(postgres_url) as connection:
        with postgres_proxy.toxic("slicer", average_size=64, size_variation=32, delay=10):
            row = connection.execute("SELECT repeat('x', 20000)").fetchone()
        assert row == ("x" * 20_000,)
        with postgres_proxy.toxic("limit_data", bytes=500), pytest.raises(psycopg.OperationalError):
            connection.execute("SELECT repeat('x', 20000)").fetchone()


def test_postgres_down_cuts_and_refuses_then_up_restores(
    postgres_proxy: Proxy, postgres_url: str
) -> None:
    with _connect(postgres_url) as connection, postgres_proxy.down():
        with pytest.raises(psycopg.OperationalError):
            connection.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError, match="refused"):
            _connect(postgres_url)

    with _connect(postgres_url) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
