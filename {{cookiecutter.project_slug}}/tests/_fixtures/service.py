"""Fixtures for the reference service: a migrated database, settings, the app and a client.

Everything runs against testkit's real infrastructure: one migrated database per xdist
worker (postgres_database), emptied before each test, and a Redis key prefix per test
(redis_namespace). The app is driven in-process over ASGI: no port, no server process.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from testkit.fixtures import RedisNamespace

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
SERVICE_TABLES = ("documents", "api_keys", "tenants")

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
    service_database: str, redis_namespace: RedisNamespace, clean_app_env: None
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
