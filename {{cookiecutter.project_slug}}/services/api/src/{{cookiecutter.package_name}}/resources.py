"""Everything a running app holds on to: built once per app, closed at shutdown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }}.answer_providers.factory import (
    build_answer_provider,
)
from {{ cookiecutter.package_name }}.answer_providers.guarded import (
    GuardedProvider,
)
from {{ cookiecutter.package_name }}.db import (
    create_engine,
    create_sessionmaker,
)
from {{ cookiecutter.package_name }}.event_hub import EventHub
from {{ cookiecutter.package_name }}.nats_link import NatsLink
from {{ cookiecutter.package_name }}.rate_limit import RateLimiter
from {{ cookiecutter.package_name }}.redis_client import (
    create_redis,
)
from {{ cookiecutter.package_name }}.search_cache import (
    SearchCache,
)
from {{ cookiecutter.package_name }}.settings import Settings


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    search_cache: SearchCache
    rate_limiter: RateLimiter
    answer_provider: GuardedProvider
    nats: NatsLink
    event_hub: EventHub

    async def aclose(self) -> None:
        await self.nats.aclose()
        await self.answer_provider.aclose()
        await self.redis.aclose()
        await self.engine.dispose()


def build_resources(settings: Settings, *, clock: Callable[[], float] = time.time) -> Resources:
    """Construct clients without connecting: connections open lazily on first use.

    ``clock`` is the rate limiter's time source; tests pin it to stay inside one window.
    """
    engine = create_engine(settings)
    redis = create_redis(settings)
    return Resources(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        redis=redis,
        search_cache=SearchCache(
            redis,
            key_prefix=settings.redis_key_prefix,
            ttl_seconds=settings.search_cache_ttl_seconds,
        ),
        rate_limiter=RateLimiter(
            redis,
            key_prefix=settings.redis_key_prefix,
            limit=settings.rate_limit_per_minute,
            fail_open=settings.rate_limit_fail_open,
            clock=clock,
        ),
        answer_provider=build_answer_provider(settings),
        nats=NatsLink(settings.nats_url),
        event_hub=EventHub(),
    )
