"""Example unit tests: pure functions, no I/O. The subjects are testkit's own decisions."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from testkit.infra.protocol import Probe, ProbeStatus
from testkit.infra.resolve import resolve
from testkit.modes import Mode, resolve_mode
from testkit.tiers import tier_of


def test_a_test_file_takes_its_tier_from_the_folder_under_tests() -> None:
    assert tier_of(PurePosixPath("tests/integration/test_x.py")) == "integration"
    assert tier_of(PurePosixPath("tests/_helpers/test_x.py")) is None


def test_mock_mode_keeps_loopback_reachable_and_blocks_the_rest() -> None:
    mode = resolve_mode("mock", raw_allow_hosts="ci-cache.internal")

    assert mode.mode is Mode.MOCK
    assert mode.block_network
    assert "127.0.0.0/8" in mode.allowed_hosts
    assert "ci-cache.internal" in mode.allowed_hosts


def test_a_misspelt_mode_is_rejected_with_the_allowed_values() -> None:
    with pytest.raises(pytest.UsageError, match="must be MOCK, GOLDEN or LIVE_SMOKE, got 'mok'"):
        resolve_mode("mok")


def test_an_explicit_url_that_does_not_answer_is_not_silently_replaced() -> None:
    dead = Probe("url", ProbeStatus.FAILED, "redis://127.0.0.1:1 (TEST_REDIS_URL) is not reachable")
    local = Probe("local-binary", ProbeStatus.AVAILABLE, "redis-server")

    resolution = resolve("redis", [dead, local])

    assert resolution.source is None
    assert "TEST_REDIS_URL" in resolution.reason
