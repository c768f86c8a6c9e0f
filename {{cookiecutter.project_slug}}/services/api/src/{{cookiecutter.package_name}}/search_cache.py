"""Redis cache of search results, invalidated per tenant by a generation counter.

Every cache key embeds the tenant's current generation; a write bumps the counter, so
all of that tenant's cached results become unreachable at once (and expire by TTL)
without scanning for keys. Works with clients in either decode_responses mode.

An invalidation that fails (Redis down) is remembered and retried before this process next
uses the cache, so entries cached before an outage are never served after it by this
process (another instance may serve them until their TTL ends).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from {{ cookiecutter.package_name }}.schemas import SearchHit
from {{ cookiecutter.package_name }}.search_query import (
    SearchQuery,
)

logger = logging.getLogger(__name__)

_HITS = TypeAdapter(list[SearchHit])


class CacheOutcome(StrEnum):
    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"
    """Redis failed: the results were computed and not cached."""


@dataclass(frozen=True, slots=True)
class CachedSearch:
    hits: list[SearchHit]
    outcome: CacheOutcome


def generation_key(*, key_prefix: str, tenant_id: uuid.UUID) -> str:
    return f"{key_prefix}search:gen:{tenant_id}"


def entry_key(*, key_prefix: str, tenant_id: uuid.UUID, generation: int, query: SearchQuery) -> str:
    # Hash the query text: keys stay short and free of spaces or odd characters.
    digest = hashlib.sha256(query.text.encode()).hexdigest()[:32]
    return f"{key_prefix}search:{tenant_id}:{generation}:{query.limit}:{digest}"


def _as_int(value: bytes | str | None) -> int:
    # GET returns bytes or str depending on decode_responses; int() takes both.
    return 0 if value is None else int(value)


class SearchCache:
    def __init__(self, redis: Redis, *, key_prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._ttl_seconds = ttl_seconds
        # Tenants whose invalidation failed: bumped before the cache is trusted again.
        self._pending_invalidations: set[uuid.UUID] = set()

    async def get_or_compute(
        self,
        *,
        tenant_id: uuid.UUID,
        query: SearchQuery,
        compute: Callable[[], Awaitable[list[SearchHit]]],
    ) -> CachedSearch:
        try:
            await self._retry_pending_invalidations()
            generation = await self.generation(tenant_id=tenant_id)
            key = entry_key(
                key_prefix=self._key_prefix, tenant_id=tenant_id, generation=generation, query=query
            )
            cached = await self._redis.get(key)
        except RedisError as exc:
            logger.warning("search cache unavailable (%s); bypassing it", exc)
            return CachedSearch(hits=await compute(), outcome=CacheOutcome.BYPASS)
        if cached is not None:
            return CachedSearch(hits=_HITS.validate_json(cached), outcome=CacheOutcome.HIT)
        hits = await compute()
        # Stored under the generation read *before* computing: if a write bumped it
        # meanwhile, this entry is already unreachable instead of serving stale hits.
        try:
            await self._redis.set(key, _HITS.dump_json(hits), ex=self._ttl_seconds)
        except RedisError as exc:
            logger.warning("search cache unavailable (%s); result not cached", exc)
            return CachedSearch(hits=hits, outcome=CacheOutcome.BYPASS)
        return CachedSearch(hits=hits, outcome=CacheOutcome.MISS)

    async def generation(self, *, tenant_id: uuid.UUID) -> int:
        key = generation_key(key_prefix=self._key_prefix, tenant_id=tenant_id)
        return _as_int(await self._redis.get(key))

    async def invalidate(self, *, tenant_id: uuid.UUID) -> None:
        """Make every cached search of the tenant unreachable. Call after the write commits."""
        self._pending_invalidations.add(tenant_id)
        try:
            await self._retry_pending_invalidations()
        except RedisError as exc:
            # The write itself succeeded. This process retries the bump before it reads the
            # cache again; other instances may serve older entries until their TTL ends.
            logger.warning("search cache invalidation failed (%s); retried later", exc)

    async def _retry_pending_invalidations(self) -> None:
        """Bump every tenant whose invalidation has not reached Redis yet (raises RedisError)."""
        for tenant_id in list(self._pending_invalidations):
            await self._redis.incr(generation_key(key_prefix=self._key_prefix, tenant_id=tenant_id))
            self._pending_invalidations.discard(tenant_id)
