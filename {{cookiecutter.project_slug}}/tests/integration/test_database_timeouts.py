"""Queries are bounded by APP_DB_STATEMENT_TIMEOUT_MS: a slow database fails fast."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from _fixtures.service import ServiceFactory
from testkit.fixtures import PostgresSchema

pytestmark = pytest.mark.anyio


async def test_a_query_slower_than_the_statement_timeout_is_cancelled(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(db_statement_timeout_ms=200)
    started = time.monotonic()
    async with service.resources.engine.connect() as connection:
        with pytest.raises(OperationalError, match="statement timeout"):
            await connection.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 3


async def test_options_the_url_carries_survive_next_to_the_timeout(
    service_factory: ServiceFactory, postgres_schema: PostgresSchema
) -> None:
    # The engine adds statement_timeout to libpq's `options`; options already in the URL
    # (testkit's per-test schema URLs set search_path that way) must be kept.
    service = await service_factory(database_url=postgres_schema.url, db_statement_timeout_ms=1234)
    async with service.resources.engine.connect() as connection:
        search_path = (await connection.execute(text("SHOW search_path"))).scalar_one()
        timeout = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
    assert search_path == postgres_schema.name
    assert timeout == "1234ms"
