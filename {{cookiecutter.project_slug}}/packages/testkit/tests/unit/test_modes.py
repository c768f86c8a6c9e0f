from __future__ import annotations

import pytest

from testkit.modes import LOOPBACK_NETWORKS, Mode, parse_hosts, resolve_mode


def test_mock_is_the_default_and_blocks_the_network_except_loopback() -> None:
    config = resolve_mode(None)

    assert config.mode is Mode.MOCK
    assert config.block_network
    assert config.allowed_hosts == LOOPBACK_NETWORKS


@pytest.mark.parametrize("raw", ["golden", " GOLDEN ", "Golden"])
def test_mode_names_are_case_and_space_insensitive(raw: str) -> None:
    assert resolve_mode(raw).mode is Mode.GOLDEN


def test_live_smoke_does_not_block_the_network() -> None:
    assert not resolve_mode("LIVE_SMOKE").block_network


def test_an_unknown_mode_is_rejected_naming_the_source_value_and_allowed_modes() -> None:
    with pytest.raises(pytest.UsageError) as raised:
        resolve_mode("mok", mode_source="--testkit-mode")

    assert str(raised.value) == "--testkit-mode must be MOCK, GOLDEN or LIVE_SMOKE, got 'mok'"


def test_the_allowlist_adds_configured_and_infrastructure_hosts_once_each() -> None:
    config = resolve_mode(
        "MOCK", raw_allow_hosts="api.internal, 10.0.0.0/8,,", infrastructure_hosts=("db", "db")
    )

    assert config.allowed_hosts == (*LOOPBACK_NETWORKS, "api.internal", "10.0.0.0/8", "db")


def test_blank_host_lists_are_empty() -> None:
    assert parse_hosts(None) == ()
    assert parse_hosts(" , ") == ()
