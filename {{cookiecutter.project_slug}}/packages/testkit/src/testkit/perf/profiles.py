"""Load profiles: how many users, how fast they arrive, for how long.

The SPEC's seed values, scaled by PERF_SCALE for small machines (users and spawn rate; never
below one). ``smoke`` is for CI and is never scaled: it is already small and short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from testkit.usage import UsageError


class ProfileError(UsageError):
    """An unknown profile or a bad scale; the message names the input and the valid values."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One load shape. ``round_s`` and ``warmup_s`` apply to the gate's repeated rounds."""

    name: str
    users: int
    spawn_rate: float
    run_time_s: int
    round_s: int
    warmup_s: float
    scalable: bool = True


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "smoke", users=10, spawn_rate=10, run_time_s=20, round_s=6, warmup_s=1.0, scalable=False
        ),
        Profile("baseline", users=100, spawn_rate=10, run_time_s=300, round_s=60, warmup_s=10.0),
        Profile("stress", users=1000, spawn_rate=50, run_time_s=600, round_s=120, warmup_s=20.0),
        Profile("spike", users=5000, spawn_rate=100, run_time_s=60, round_s=60, warmup_s=0.0),
    )
}


def parse_scale(raw: str | None) -> float:
    """PERF_SCALE: a number in (0, 1]; unset or empty means 1."""
    if raw is None or not raw.strip():
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise ProfileError(f"PERF_SCALE must be a number in (0, 1], e.g. 0.1, got {raw!r}")
    return value


def resolve_profile(name: str, *, scale: float = 1.0) -> Profile:
    """The named profile, scaled; unknown names are refused with the valid ones listed."""
    profile = PROFILES.get(name)
    if profile is None:
        raise ProfileError(f"unknown perf profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    if not profile.scalable or scale == 1.0:
        return profile
    return replace(
        profile,
        users=max(1, round(profile.users * scale)),
        spawn_rate=max(1.0, round(profile.spawn_rate * scale, 2)),
    )
