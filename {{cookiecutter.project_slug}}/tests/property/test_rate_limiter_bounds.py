"""The rate limiter never admits more than its limit per window, even under concurrency.

Runs against real Redis: the bound depends on INCR and EXPIRE being atomic there, which
no in-memory fake would prove.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from _helpers.clock import FrozenClock
from testkit.fixtures import RedisNamespace

from {{ cookiecutter.package_name }}.rate_limit import RateLimiter
from {{ cookiecutter.package_name }}.redis_client import (
    create_redis,
)
from {{ cookiecutter.package_name }}.settings import Settings

pytestmark = pytest.mark.anyio

WINDOW = 60


@pytest.fixture
async def redis(redis_namespace: RedisNamespace) -> AsyncIterator[Redis]:
    client = create_redis(Settings(redis_url=redis_namespace.url))
    yield client
    await client.aclose()


@settings(
    max_examples=25,
    deadline=None,
    # Each example uses a fresh tenant id, so counters never carry over between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    limit=st.integers(min_value=1, max_value=20),
    burst=st.integers(min_value=1, max_value=40),
    second=st.floats(min_value=0, max_value=WINDOW - 1, allow_nan=False),
)
async def test_a_concurrent_burst_admits_exactly_min_of_burst_and_limit(
    redis: Redis, redis_namespace: RedisNamespace, limit: int, burst: int, second: float
) -> None:
    clock = FrozenClock(1_700_000_040.0 + second)
    limiter = RateLimiter(
        redis, key_prefix=redis_namespace.prefix, limit=limit, fail_open=False, clock=clock
    )
    tenant = uuid.uuid4()

    decisions = await asyncio.gather(*(limiter.hit(tenant) for _ in range(burst)))

    admitted = [d for d in decisions if d.allowed]
    assert len(admitted) == min(burst, limit)
    assert all(d.backend_available for d in decisions)
    assert sorted(d.remaining for d in admitted) == list(range(limit - len(admitted), limit))
    assert all(1 <= d.retry_after <= WINDOW for d in decisions if not d.allowed)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(min_value=1, max_value=10), windows=st.integers(min_value=2, max_value=4))
async def test_each_window_admits_the_limit_again_and_no_more(
    redis: Redis, redis_namespace: RedisNamespace, limit: int, windows: int
) -> None:
    clock = FrozenClock(1_700_000_040.0)
    limiter = RateLimiter(
        redis, key_prefix=redis_namespace.prefix, limit=limit, fail_open=False, clock=clock
    )
    tenant = uuid.uuid4()
    for _ in range(windows):
        decisions = [await limiter.hit(tenant) for _ in range(limit + 2)]
        assert [d.allowed for d in decisions] == [True] * limit + [False, False]
        clock.advance(WINDOW)


async def test_tenants_do_not_share_a_budget(redis: Redis, redis_namespace: RedisNamespace) -> None:
    limiter = RateLimiter(
        redis,
        key_prefix=redis_namespace.prefix,
        limit=2,
        fail_open=False,
        clock=FrozenClock(1_700_000_040.0),
    )
    noisy, quiet = uuid.uuid4(), uuid.uuid4()
    for _ in range(5):
        await limiter.hit(noisy)
    assert (await limiter.hit(quiet)).allowed
