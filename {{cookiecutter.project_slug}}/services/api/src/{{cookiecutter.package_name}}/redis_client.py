"""The service's Redis client: short timeouts and one retry, so an outage degrades fast."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from {{ cookiecutter.package_name }}.settings import Settings


def create_redis(settings: Settings) -> Redis:
    # A pooled connection the server closed while idle (restart, CLIENT KILL, timeout)
    # is noticed and replaced when it is taken from the pool. One retry covers one that
    # breaks during a command; more would only stretch how long a request waits while
    # Redis is really down (the short timeouts bound each attempt). The asyncio client takes
    # redis.asyncio.retry.Retry: redis 8.2 converts a synchronous one with a warning and drops
    # a custom call_with_retry.
    return Redis.from_url(
        settings.redis_url,
        decode_responses=settings.redis_decode_responses,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        client_name=settings.redis_client_name,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), retries=1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
