"""Fixtures for the reference service: a migrated database, settings, the app and a client.

Everything runs against testkit's real infrastructure: one migrated database per xdist
worker (postgres_database), emptied before each test, and a Redis key prefix per test
(redis_namespace). The app is driven in-process over ASGI: no port, no server process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession

from _helpers.openai_stub import FakeOpenAI, openai_stub_server
from _helpers.web_doubles import LoopbackSite
from testkit import isolation
from testkit.fixtures import RedisNamespace
from testkit.golden import GoldenHttp
from testkit.infra import Endpoint
from testkit.modes import Mode, ModeConfig
from testkit.server import RunningServer, run_uvicorn

from {{ cookiecutter.package_name }}.answer_providers.openai import (
    OpenAIProvider,
)
from {{ cookiecutter.package_name }}.event_messages import (
    stream_name,
)
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.resources import Resources
from {{ cookiecutter.package_name }}.settings import (
    ENV_PREFIX,
    Settings,
)

SERVICE_DIR = Path(__file__).resolve().parents[2] / "services" / "api"
TEST_ADMIN_TOKEN = "test-admin-token-0123456789"
TEST_API_KEY_PEPPER = "test-api-key-pepper-0123456789"
# High enough that no test trips it by accident; rate-limit tests lower it.
TEST_RATE_LIMIT_PER_MINUTE = 10_000
# dead_letters has no foreign key to tenants (a poison message may name no tenant), so the
# cascade from tenants does not reach it: it is listed on its own.
SERVICE_TABLES = ("dead_letters", "outbox_events", "documents", "api_keys", "tenants")

SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (marked ``pytest.mark.anyio``) run on asyncio: psycopg and redis need it."""
    return "asyncio"


def alembic_config(database_url: str) -> Config:
    """Alembic pointed at ``database_url`` without touching the logging setup."""
    config = Config(str(SERVICE_DIR / "alembic.ini"))
    # Passed as an attribute, not set_main_option: ConfigParser would try to
    # interpolate the %-escapes a URL can carry (e.g. options=-csearch_path%3D...).
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


@pytest.fixture(scope="session")
def migrated_database(postgres_database: str) -> str:
    """The worker's database with the service schema at head (migrated once per session)."""
    command.upgrade(alembic_config(postgres_database), "head")
    return postgres_database


@pytest.fixture
def service_database(migrated_database: str) -> str:
    """The migrated database, emptied: each test starts from no tenants at all."""
    with psycopg.connect(migrated_database, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {', '.join(SERVICE_TABLES)} CASCADE")
    return migrated_database


@pytest.fixture
def clean_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop APP_* variables of the developer's shell so they cannot steer the tests."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


@pytest.fixture
def settings_factory(
    service_database: str,
    redis_namespace: RedisNamespace,
    nats_server: Endpoint,
    nats_subject_prefix: str,
    clean_app_env: None,
) -> SettingsFactory:
    """Build test settings (real database and key prefix), overriding any field by keyword."""
    # Unique names let connection-loss tests find exactly this test's connections.
    client_name = f"kb-test-{secrets.token_hex(6)}"

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "database_url": service_database,
            "db_application_name": client_name,
            "redis_url": redis_namespace.url,
            "redis_key_prefix": redis_namespace.prefix,
            "redis_client_name": client_name,
            "nats_url": nats_server.url,
            "nats_subject_prefix": nats_subject_prefix,
            "rate_limit_per_minute": TEST_RATE_LIMIT_PER_MINUTE,
            "admin_token": TEST_ADMIN_TOKEN,
            "api_key_pepper": TEST_API_KEY_PEPPER,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def service_settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory()


@dataclass(frozen=True, slots=True)
class ServiceHarness:
    """A running app, a client talking to it, and what it was built from."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    @property
    def resources(self) -> Resources:
        resources: Resources = self.app.state.resources
        return resources


ServiceFactory = Callable[..., Awaitable[ServiceHarness]]


@pytest.fixture
async def service_factory(settings_factory: SettingsFactory) -> AsyncIterator[ServiceFactory]:
    """Start apps with changed settings: ``await service_factory(rate_limit_per_minute=3)``."""
    started: list[ServiceHarness] = []

    async def start(*, clock: Callable[[], float] = time.time, **overrides: Any) -> ServiceHarness:
        settings = settings_factory(**overrides)
        app = create_app(settings, clock=clock)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://service.test"
        )
        harness = ServiceHarness(app=app, client=client, settings=settings)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.client.aclose()
        # ASGITransport does not run the lifespan, so close what it would have closed.
        await harness.resources.aclose()


@pytest.fixture
async def service(service_factory: ServiceFactory) -> ServiceHarness:
    return await service_factory()


@pytest.fixture
def client(service: ServiceHarness) -> httpx.AsyncClient:
    """An HTTP client for the service app (ASGI in-process, real Postgres and Redis)."""
    return service.client


@pytest.fixture
async def db_session(service: ServiceHarness) -> AsyncIterator[AsyncSession]:
    """A session of the service's own engine, for arranging data and checking results."""
    async with service.resources.sessionmaker() as session:
        yield session


@dataclass(frozen=True, slots=True)
class TenantWithKey:
    """A tenant created through the admin endpoint, and its first (plaintext) API key."""

    id: uuid.UUID
    name: str
    api_key: str
    api_key_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


ADMIN_HEADERS = {"X-Admin-Token": TEST_ADMIN_TOKEN}


async def create_tenant(client: httpx.AsyncClient, *, name: str) -> TenantWithKey:
    response = await client.post("/admin/tenants", json={"name": name}, headers=ADMIN_HEADERS)
    assert response.status_code == 201, response.text
    body = response.json()
    return TenantWithKey(
        id=uuid.UUID(body["tenant"]["id"]),
        name=body["tenant"]["name"],
        api_key=body["api_key"]["key"],
        api_key_id=uuid.UUID(body["api_key"]["id"]),
    )


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> TenantWithKey:
    return await create_tenant(client, name="Tenant A")


@pytest.fixture
async def other_tenant(client: httpx.AsyncClient) -> TenantWithKey:
    return await create_tenant(client, name="Tenant B")


@pytest.fixture
def admin_connection(service_database: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain autocommit connection beside the service, for what the service must not do."""
    with psycopg.connect(service_database, autocommit=True) as connection:
        yield connection


# --- The service as a real uvicorn process (helper EDGE: e2e, contract, observability) ---

SERVICE_APP = "{{ cookiecutter.package_name }}.main:create_app"
PROJECT_ROOT = SERVICE_DIR.parents[1]
# Low enough that the e2e rate-limit journey reaches it in well under a second.
LIVE_RATE_LIMIT_PER_MINUTE = 60
# The service's default limit: what a LIVE_SMOKE journey expects unless told otherwise.
DEFAULT_LIVE_SMOKE_RATE_LIMIT = 120


@dataclass(frozen=True, slots=True)
class LiveTarget:
    """Where the journeys send their requests, and what they need to know about it.

    ``server`` is the local uvicorn process; None under LIVE_SMOKE (a deployment elsewhere).
    """

    base_url: str
    admin_token: str
    rate_limit_per_minute: int
    server: RunningServer | None

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"X-Admin-Token": self.admin_token}


LiveServerFactory = Callable[..., RunningServer]


@contextlib.contextmanager
def migrated_scratch_database(server_url: str) -> Iterator[str]:
    """A new database at head, dropped on exit: one per live server.

    Not the in-process tests' database (they truncate it before every test), and not shared
    between live servers: each server's outbox relay must publish only its own events.
    """
    with isolation.scratch_database(server_url, "e2e") as url:
        command.upgrade(alembic_config(url), "head")
        yield url


@pytest.fixture(scope="session")
def live_server_factory(
    postgres_server: Endpoint,
    redis_server: Endpoint,
    nats_server: Endpoint,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServerFactory]:
    """Start ``uvicorn --factory`` processes of the service, one per distinct set of APP_*
    overrides (``live_server_factory(RATE_LIMIT_PER_MINUTE="10000")``), shared by the session.
    """
    prefix = isolation.unique_name("e2e", separator=":") + ":"
    servers: dict[tuple[tuple[str, str], ...], RunningServer] = {}
    try:
        with contextlib.ExitStack() as stack:

            def start(**overrides: str) -> RunningServer:
                key = tuple(sorted(overrides.items()))
                if key not in servers:
                    index = len(servers)
                    database = stack.enter_context(migrated_scratch_database(postgres_server.url))
                    env = {
                        f"{ENV_PREFIX}ENV": "test",
                        f"{ENV_PREFIX}DATABASE_URL": database,
                        f"{ENV_PREFIX}REDIS_URL": redis_server.url,
                        # Each server counts its rate-limit windows under its own prefix.
                        f"{ENV_PREFIX}REDIS_KEY_PREFIX": f"{prefix}{index}:",
                        f"{ENV_PREFIX}NATS_URL": nats_server.url,
                        # The relay's JetStream stream is named after the prefix: one per server.
                        f"{ENV_PREFIX}NATS_SUBJECT_PREFIX": f"{prefix}{index}".replace(":", "."),
                        f"{ENV_PREFIX}ADMIN_TOKEN": TEST_ADMIN_TOKEN,
                        f"{ENV_PREFIX}API_KEY_PEPPER": TEST_API_KEY_PEPPER,
                        f"{ENV_PREFIX}RATE_LIMIT_PER_MINUTE": str(LIVE_RATE_LIMIT_PER_MINUTE),
                        f"{ENV_PREFIX}DB_APPLICATION_NAME": f"kb-live-{index}",
                        **{f"{ENV_PREFIX}{name.upper()}": val for name, val in overrides.items()},
                    }
                    log_path = tmp_path_factory.mktemp("live-server") / "uvicorn.log"
                    servers[key] = stack.enter_context(
                        run_uvicorn(
                            SERVICE_APP,
                            log_path=log_path,
                            env=env,
                            # The developer's APP_* must not steer the server under test.
                            drop_env_prefixes=(ENV_PREFIX,),
                            health_path="/readyz",
                            cwd=PROJECT_ROOT,
                        )
                    )
                return servers[key]

            yield start
    finally:
        isolation.delete_redis_keys(redis_server.url, prefix)
        # The servers' relays created one JetStream stream each on the shared NATS.
        delete_event_streams(
            nats_server.url, [f"{prefix}{index}".replace(":", ".") for index in range(len(servers))]
        )


@pytest.fixture(scope="session")
def live_server(live_server_factory: LiveServerFactory) -> RunningServer:
    """The service as a real uvicorn process on a free loopback port (one per worker)."""
    return live_server_factory()


@pytest.fixture(scope="session")
def live_target(test_mode: ModeConfig, request: pytest.FixtureRequest) -> LiveTarget:
    """The local uvicorn process, or with TEST_MODE=LIVE_SMOKE the deployment at TEST_BASE_URL.

    LIVE_SMOKE also reads TEST_ADMIN_TOKEN (the deployment's APP_ADMIN_TOKEN, required) and
    TEST_RATE_LIMIT_PER_MINUTE (its APP_RATE_LIMIT_PER_MINUTE, default 120).
    """
    if test_mode.mode is not Mode.LIVE_SMOKE:
        server: RunningServer = request.getfixturevalue("live_server")
        return LiveTarget(server.base_url, TEST_ADMIN_TOKEN, LIVE_RATE_LIMIT_PER_MINUTE, server)
    base_url = _required_env("TEST_BASE_URL", "the deployment's URL, e.g. http://127.0.0.1:8000")
    admin_token = _required_env("TEST_ADMIN_TOKEN", "the deployment's APP_ADMIN_TOKEN")
    raw_limit = os.environ.get("TEST_RATE_LIMIT_PER_MINUTE", str(DEFAULT_LIVE_SMOKE_RATE_LIMIT))
    if not raw_limit.strip().isdigit() or int(raw_limit) < 1:
        raise pytest.UsageError(
            f"TEST_RATE_LIMIT_PER_MINUTE must be a positive integer, got {raw_limit!r}"
        )
    return LiveTarget(base_url.rstrip("/"), admin_token, int(raw_limit), None)


@pytest.fixture(scope="session")
def base_url(live_target: LiveTarget) -> str:
    """Base URL of the service under test: local uvicorn, or TEST_BASE_URL under LIVE_SMOKE."""
    return live_target.base_url


@pytest.fixture
def live_client(live_target: LiveTarget) -> Iterator[httpx.Client]:
    """A plain HTTP client for the service under test (real sockets, no ASGI shortcut)."""
    with httpx.Client(base_url=live_target.base_url, timeout=10.0) as client:
        yield client


def _required_env(name: str, meaning: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise pytest.UsageError(f"TEST_MODE=LIVE_SMOKE needs {name} ({meaning}); it is not set")
    return value


# --- /ask answer providers (helper ASK) ------------------------------------------------------
# A fake key: the fake and the cassettes accept any bearer token, and GOLDEN never sends one out.
OPENAI_TEST_KEY = "sk-test-0123456789abcdef0123456789abcdef"
OPENAI_TEST_MODEL = "gpt-4o-mini"
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    """The in-process OpenAI fake (it stands for a paid external API); records its requests."""
    return FakeOpenAI()


@pytest.fixture
async def openai_provider(
    test_mode: ModeConfig, golden_http: GoldenHttp, fake_openai: FakeOpenAI
) -> AsyncIterator[OpenAIProvider]:
    """The openai provider wired for the run's mode.

    MOCK: the in-process fake. GOLDEN: the cassettes (with RECORD=1: recorded from the API named
    by APP_OPENAI_API_KEY / APP_OPENAI_BASE_URL, or from the loopback stub when no key is set).
    LIVE_SMOKE: the real API, which needs APP_OPENAI_API_KEY.
    """
    real_key = os.environ.get(f"{ENV_PREFIX}OPENAI_API_KEY", "")
    real_base = os.environ.get(f"{ENV_PREFIX}OPENAI_BASE_URL", OPENAI_DEFAULT_BASE_URL)
    with contextlib.ExitStack() as stack:
        transport: httpx.AsyncBaseTransport | None = None
        key, base_url = OPENAI_TEST_KEY, OPENAI_DEFAULT_BASE_URL
        if test_mode.mode is Mode.MOCK:
            transport = fake_openai.transport()
        elif test_mode.mode is Mode.LIVE_SMOKE or golden_http.recording:
            if real_key:
                key, base_url = real_key, real_base
            elif test_mode.mode is Mode.LIVE_SMOKE:
                pytest.skip(f"LIVE_SMOKE openai tests need {ENV_PREFIX}OPENAI_API_KEY")
            else:
                base_url = stack.enter_context(openai_stub_server())
        client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=20.0,
            transport=transport,
        )
        provider = OpenAIProvider(client=client, model=OPENAI_TEST_MODEL)
        try:
            yield provider
        finally:
            await provider.aclose()


# --- URL ingest (helper INGEST) -----------------------------------------------------------


@pytest.fixture
def loopback_site() -> Iterator[LoopbackSite]:
    """A real HTTP server on 127.0.0.1; register pages in ``.pages``, read ``.requests``."""
    with LoopbackSite() as site:
        yield site


# --- Outbox relay streams (the live servers' relays create them) ---


def delete_event_streams(nats_url: str, subject_prefixes: list[str]) -> None:
    """Drop the relay's JetStream streams of these prefixes: runs leave NATS as they found it."""

    async def delete() -> None:
        client = await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2)
        try:
            jetstream = client.jetstream()
            for subject_prefix in subject_prefixes:
                with contextlib.suppress(NotFoundError):
                    await jetstream.delete_stream(stream_name(subject_prefix))
        finally:
            await client.close()

    # Best effort: a NATS that is gone by now has nothing left to clean up.
    with contextlib.suppress(NatsError, OSError):
        asyncio.run(delete())
