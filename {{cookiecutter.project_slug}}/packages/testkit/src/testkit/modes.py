"""TEST_MODE: what a run may touch outside the machine, decided once from the options."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

# Loopback in both address families; a MOCK run may always talk to its own machine.
LOOPBACK_NETWORKS: tuple[str, ...] = ("127.0.0.0/8", "::1/128", "localhost")


class Mode(enum.Enum):
    MOCK = "MOCK"
    GOLDEN = "GOLDEN"
    LIVE_SMOKE = "LIVE_SMOKE"


@dataclass(frozen=True, slots=True)
class ModeConfig:
    """The resolved mode and what it implies for outbound network."""

    mode: Mode
    block_network: bool
    allowed_hosts: tuple[str, ...]
    reason: str

    @property
    def name(self) -> str:
        return self.mode.value


def parse_mode(raw: str | None, *, source: str = "TEST_MODE") -> Mode:
    """MOCK when unset, else the named mode (any case); a usage error names a bad value."""
    if raw is None or not raw.strip():
        return Mode.MOCK
    try:
        return Mode(raw.strip().upper())
    except ValueError:
        names = [mode.value for mode in Mode]
        allowed = f"{', '.join(names[:-1])} or {names[-1]}"
        raise pytest.UsageError(f"{source} must be {allowed}, got {raw!r}") from None


def parse_hosts(raw: str | None) -> tuple[str, ...]:
    """Split a comma-separated host list, dropping blanks."""
    if raw is None:
        return ()
    return tuple(host.strip() for host in raw.split(",") if host.strip())


def resolve_mode(
    raw_mode: str | None,
    *,
    mode_source: str = "TEST_MODE",
    raw_allow_hosts: str | None = None,
    infrastructure_hosts: tuple[str, ...] = (),
) -> ModeConfig:
    """Turn the raw settings into a ModeConfig.

    infrastructure_hosts are the hosts of explicitly configured services (TEST_*_URL): the
    tests must reach them in every mode, so they join the allowlist.
    """
    mode = parse_mode(raw_mode, source=mode_source)
    allowed = _unique((*LOOPBACK_NETWORKS, *parse_hosts(raw_allow_hosts), *infrastructure_hosts))
    if mode is Mode.MOCK:
        return ModeConfig(mode, True, allowed, "MOCK: outbound network limited to the allowlist")
    return ModeConfig(mode, False, allowed, f"{mode.value}: outbound network allowed")


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
