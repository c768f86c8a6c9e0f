"""The search cache works with Redis clients in both decode_responses modes.

redis-py returns bytes by default and str with decode_responses=True; code that only
ever ran against one mode tends to break on the other (b"3" != "3", json on bytes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from redis.asyncio import Redis

from _fixtures.service import ServiceFactory, create_tenant
from testkit.fixtures import RedisNamespace

from {{ cookiecutter.package_name }}.redis_client import (
    create_redis,
)
from {{ cookiecutter.package_name }}.schemas import SearchHit
from {{ cookiecutter.package_name }}.search_cache import (
    CacheOutcome,
    SearchCache,
    generation_key,
)
from {{ cookiecutter.package_name }}.search_query import (
    normalise_query,
)
from {{ cookiecutter.package_name }}.settings import Settings

pytestmark = pytest.mark.anyio

HITS = [
    SearchHit(id=uuid.uuid4(), title="Grüße aus Köln", rank=0.75),
    SearchHit(id=uuid.uuid4(), title="plain ascii", rank=0.125),
]

ClientFactory = Callable[[bool], Redis]


@pytest.fixture
async def redis_client(redis_namespace: RedisNamespace) -> AsyncIterator[ClientFactory]:
    clients: list[Redis] = []

    def build(decode_responses: bool) -> Redis:
        client = create_redis(
            Settings(redis_url=redis_namespace.url, redis_decode_responses=decode_responses)
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


class Computation:
    """Counts how often the cache had to compute, i.e. how often it missed."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> list[SearchHit]:
        self.calls += 1
        return HITS


@pytest.mark.parametrize("writer_decodes", [False, True], ids=["bytes-writer", "str-writer"])
@pytest.mark.parametrize("reader_decodes", [False, True], ids=["bytes-reader", "str-reader"])
async def test_cached_results_read_back_identically_in_either_mode(
    redis_client: ClientFactory,
    redis_namespace: RedisNamespace,
    writer_decodes: bool,
    reader_decodes: bool,
) -> None:
    writer = SearchCache(
        redis_client(writer_decodes), key_prefix=redis_namespace.prefix, ttl_seconds=60
    )
    reader = SearchCache(
        redis_client(reader_decodes), key_prefix=redis_namespace.prefix, ttl_seconds=60
    )
    tenant, query, compute = uuid.uuid4(), normalise_query("köln"), Computation()

    written = await writer.get_or_compute(tenant_id=tenant, query=query, compute=compute)
    read = await reader.get_or_compute(tenant_id=tenant, query=query, compute=compute)

    assert written.outcome is CacheOutcome.MISS
    assert read.outcome is CacheOutcome.HIT
    assert read.hits == HITS
    assert compute.calls == 1


@pytest.mark.parametrize("decode_responses", [False, True], ids=["bytes", "str"])
async def test_generation_counter_parses_in_either_mode(
    redis_client: ClientFactory, redis_namespace: RedisNamespace, decode_responses: bool
) -> None:
    client = redis_client(decode_responses)
    cache = SearchCache(client, key_prefix=redis_namespace.prefix, ttl_seconds=60)
    tenant = uuid.uuid4()
    assert await cache.generation(tenant_id=tenant) == 0

    await cache.invalidate(tenant_id=tenant)
    await cache.invalidate(tenant_id=tenant)

    assert await cache.generation(tenant_id=tenant) == 2
    raw = await client.get(generation_key(key_prefix=redis_namespace.prefix, tenant_id=tenant))
    assert raw == ("2" if decode_responses else b"2")


@pytest.mark.parametrize("decode_responses", [False, True], ids=["bytes", "str"])
async def test_the_service_caches_searches_in_either_mode(
    service_factory: ServiceFactory, decode_responses: bool
) -> None:
    service = await service_factory(redis_decode_responses=decode_responses)
    client: httpx.AsyncClient = service.client
    tenant = await create_tenant(client, name="decoding")
    created = await client.post(
        "/documents", json={"title": "Köln guide", "body": "cathedral"}, headers=tenant.headers
    )
    assert created.status_code == 201

    first = await client.get("/search", params={"q": "cathedral"}, headers=tenant.headers)
    second = await client.get("/search", params={"q": "cathedral"}, headers=tenant.headers)

    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.json() == second.json()
    assert [hit["title"] for hit in second.json()["hits"]] == ["Köln guide"]
