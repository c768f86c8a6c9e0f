"""Per-tenant rate limit: a fixed one-minute window counted in Redis.

``decide`` is the whole admission policy and is pure; ``RateLimiter`` only counts hits
atomically (INCR and EXPIRE in one MULTI/EXEC) and hands the count to it.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    """Seconds until a refused caller may try again; 0 when allowed."""
    backend_available: bool = True


def decide(
    *, count: int, limit: int, now: float, window_seconds: int = WINDOW_SECONDS
) -> RateDecision:
    """Admit the ``count``-th hit of the current window when it is within ``limit``."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if count < 1:
        raise ValueError(f"count must be at least 1 (it includes this hit), got {count}")
    if count <= limit:
        return RateDecision(allowed=True, limit=limit, remaining=limit - count, retry_after=0)
    window_end = (math.floor(now / window_seconds) + 1) * window_seconds
    retry_after = max(1, math.ceil(window_end - now))
    return RateDecision(allowed=False, limit=limit, remaining=0, retry_after=retry_after)


def decide_without_backend(*, limit: int, fail_open: bool) -> RateDecision:
    """The decision when Redis cannot be reached: admit everyone, or refuse everyone."""
    return RateDecision(
        allowed=fail_open,
        limit=limit,
        remaining=limit if fail_open else 0,
        retry_after=0 if fail_open else 1,
        backend_available=False,
    )


def window_key(*, key_prefix: str, tenant_id: uuid.UUID, now: float, window_seconds: int) -> str:
    return f"{key_prefix}ratelimit:{tenant_id}:{math.floor(now / window_seconds)}"


class RateLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str,
        limit: int,
        fail_open: bool,
        window_seconds: int = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._limit = limit
        self._fail_open = fail_open
        self._window_seconds = window_seconds
        self._clock = clock

    async def hit(self, tenant_id: uuid.UUID) -> RateDecision:
        now = self._clock()
        key = window_key(
            key_prefix=self._key_prefix,
            tenant_id=tenant_id,
            now=now,
            window_seconds=self._window_seconds,
        )
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                # One spare second so the key outlives the window even with clock skew.
                pipe.expire(key, self._window_seconds + 1)
                count, _ = await pipe.execute()
        except RedisError as exc:
            logger.warning("rate limiter unavailable (%s); failing %s", exc, self._mode)
            return decide_without_backend(limit=self._limit, fail_open=self._fail_open)
        return decide(
            count=int(count), limit=self._limit, now=now, window_seconds=self._window_seconds
        )

    @property
    def _mode(self) -> str:
        return "open" if self._fail_open else "closed"
