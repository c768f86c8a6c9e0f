"""The service's Redis client is built for asyncio: its retry policy is the asyncio one.

redis-py 8.2 converts a synchronous redis.retry.Retry handed to the asyncio client with a
UserWarning (an error here) and drops a custom call_with_retry; earlier releases used it as is,
calling its synchronous sleep inside the event loop. Building the client opens no connection.
"""

from __future__ import annotations

import warnings

import pytest
from redis.asyncio.retry import Retry

from {{ cookiecutter.package_name }}.redis_client import create_redis
from {{ cookiecutter.package_name }}.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_app_env")


def test_the_client_retries_with_the_asyncio_retry_and_warns_of_nothing() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = create_redis(Settings(redis_url="redis://127.0.0.1:6379/0"))

    assert [str(warning.message) for warning in caught] == []
    retry = client.connection_pool.connection_kwargs["retry"]
    assert isinstance(retry, Retry)
