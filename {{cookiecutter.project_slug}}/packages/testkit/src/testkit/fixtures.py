"""The fixtures every test suite of this project uses; registered by the plugin, importable here.

Infrastructure fixtures skip with the reason when their service is unavailable, or fail when
TESTKIT_REQUIRE_INFRA=1. Each test gets its own schema, key prefix and subject prefix, and each
xdist worker its own database, so parallel workers never collide.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from testkit import isolation
from testkit.chaos.servers import KillableServer, ServerKind, ServerUnavailable, ephemeral
from testkit.infra.manager import ServiceUnavailable
from testkit.infra.protocol import Endpoint, Service, SourceStartError
from testkit.modes import ModeConfig
from testkit.state import get_state

__all__ = [
    "Endpoint",
    "PostgresSchema",
    "RedisNamespace",
    "ephemeral_nats",
    "ephemeral_postgres",
    "ephemeral_redis",
    "nats_server",
    "nats_subject_prefix",
    "postgres_database",
    "postgres_schema",
    "postgres_server",
    "redis_namespace",
    "redis_server",
    "service_endpoint",
    "test_mode",
    "test_seed",
]


@dataclass(frozen=True, slots=True)
class PostgresSchema:
    """A fresh schema in the worker's database; url's connections have it as search_path."""

    url: str
    name: str


@dataclass(frozen=True, slots=True)
class RedisNamespace:
    """A key prefix owned by one test; its keys are deleted after the test."""

    url: str
    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)


def service_endpoint(config: pytest.Config, service: Service) -> Endpoint:
    """The service's endpoint, started on first use; skips (fails when required) if unavailable."""
    state = get_state(config)
    try:
        return state.infra.endpoint(service)
    except ServiceUnavailable as unavailable:
        if state.require_infra:
            pytest.fail(f"TESTKIT_REQUIRE_INFRA=1: {unavailable}", pytrace=False)
        pytest.skip(str(unavailable))


@pytest.fixture(scope="session")
def test_mode(pytestconfig: pytest.Config) -> ModeConfig:
    """The run's TEST_MODE and what it allows."""
    return get_state(pytestconfig).mode


@pytest.fixture(scope="session")
def test_seed(pytestconfig: pytest.Config) -> int:
    """The run's seed (TEST_SEED, --randomly-seed, or the fresh one shown in the header)."""
    return get_state(pytestconfig).seed.seed


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Endpoint:
    return service_endpoint(pytestconfig, "postgres")


@pytest.fixture(scope="session")
def postgres_database(postgres_server: Endpoint) -> Iterator[str]:
    """libpq URL of a database created for this worker's session and dropped at its end."""
    with isolation.scratch_database(postgres_server.url, "tk") as url:
        yield url


@pytest.fixture
def postgres_schema(postgres_database: str) -> Iterator[PostgresSchema]:
    name = isolation.unique_name("t")
    isolation.create_schema(postgres_database, name)
    try:
        yield PostgresSchema(isolation.with_search_path(postgres_database, name), name)
    finally:
        isolation.drop_schema(postgres_database, name)


@pytest.fixture(scope="session")
def redis_server(pytestconfig: pytest.Config) -> Endpoint:
    return service_endpoint(pytestconfig, "redis")


@pytest.fixture
def redis_namespace(redis_server: Endpoint) -> Iterator[RedisNamespace]:
    prefix = isolation.unique_name("tk", separator=":") + ":"
    try:
        yield RedisNamespace(redis_server.url, prefix)
    finally:
        isolation.delete_redis_keys(redis_server.url, prefix)


@pytest.fixture(scope="session")
def nats_server(pytestconfig: pytest.Config) -> Endpoint:
    return service_endpoint(pytestconfig, "nats")


@pytest.fixture
def nats_subject_prefix(nats_server: Endpoint) -> str:
    """A subject prefix no other test or worker uses, e.g. tk.gw0.3f9a0c2b7d41."""
    return isolation.unique_name("tk", separator=".")


def _killable(config: pytest.Config, kind: ServerKind) -> Iterator[KillableServer]:
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(ephemeral(kind))
        except ServerUnavailable as unavailable:
            if get_state(config).require_infra:
                pytest.fail(f"TESTKIT_REQUIRE_INFRA=1: {unavailable}", pytrace=False)
            pytest.skip(f"killable {kind} server unavailable: {unavailable}")
        except SourceStartError as error:
            pytest.fail(f"killable {kind} server did not start: {error}", pytrace=False)
        yield server


@pytest.fixture
def ephemeral_postgres(pytestconfig: pytest.Config) -> Iterator[KillableServer]:
    """A PostgreSQL of this test's own (testkit.chaos.servers): kill() is SIGKILL, start()
    brings it back on the same port and data dir. The shared server is never touched."""
    yield from _killable(pytestconfig, "postgres")


@pytest.fixture
def ephemeral_redis(pytestconfig: pytest.Config) -> Iterator[KillableServer]:
    """A Redis of this test's own (append-only file on), killable and restartable."""
    yield from _killable(pytestconfig, "redis")


@pytest.fixture
def ephemeral_nats(pytestconfig: pytest.Config) -> Iterator[KillableServer]:
    """A nats-server of this test's own (JetStream on a file store), killable and restartable."""
    yield from _killable(pytestconfig, "nats")
