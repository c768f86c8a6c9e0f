"""The rate limiter's admission policy, without Redis."""

from __future__ import annotations

import uuid

import pytest

from {{ cookiecutter.package_name }}.rate_limit import (
    decide,
    decide_without_backend,
    window_key,
)


@pytest.mark.parametrize(("count", "remaining"), [(1, 4), (4, 1), (5, 0)])
def test_hits_up_to_the_limit_are_admitted(count: int, remaining: int) -> None:
    decision = decide(count=count, limit=5, now=1_000.0)
    assert decision.allowed
    assert decision.remaining == remaining
    assert decision.retry_after == 0


def test_the_hit_after_the_limit_is_refused_until_the_window_ends() -> None:
    # now = 130.25 lies in the window [120, 180): 49.75 s left, rounded up.
    decision = decide(count=6, limit=5, now=130.25, window_seconds=60)
    assert not decision.allowed
    assert decision.remaining == 0
    assert decision.retry_after == 50


def test_retry_after_is_never_zero_for_a_refusal() -> None:
    # At the very end of a window a caller told "retry in 0 s" would spin.
    assert decide(count=9, limit=1, now=179.999, window_seconds=60).retry_after == 1


@pytest.mark.parametrize(("count", "limit", "message"), [(0, 5, "count"), (1, 0, "limit")])
def test_impossible_inputs_are_rejected(count: int, limit: int, message: str) -> None:
    with pytest.raises(ValueError, match=f"{message} must be at least 1"):
        decide(count=count, limit=limit, now=0.0)


def test_without_redis_fail_open_admits_and_says_the_backend_is_gone() -> None:
    decision = decide_without_backend(limit=5, fail_open=True)
    assert decision.allowed
    assert not decision.backend_available


def test_without_redis_fail_closed_refuses() -> None:
    decision = decide_without_backend(limit=5, fail_open=False)
    assert not decision.allowed
    assert not decision.backend_available
    assert decision.retry_after >= 1


def test_each_tenant_and_each_window_counts_in_its_own_key() -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    key = window_key(key_prefix="p:", tenant_id=tenant, now=125.0, window_seconds=60)
    assert key == window_key(key_prefix="p:", tenant_id=tenant, now=179.0, window_seconds=60)
    assert key != window_key(key_prefix="p:", tenant_id=tenant, now=180.0, window_seconds=60)
    assert key != window_key(key_prefix="p:", tenant_id=other, now=125.0, window_seconds=60)
    assert key.startswith("p:")
