"""What the plugin resolved at configure time, kept on the pytest config for hooks and fixtures."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from testkit.infra.manager import InfraManager
from testkit.modes import ModeConfig
from testkit.seeding import SeedChoice


@dataclass(slots=True)
class TestkitState:
    __test__ = False  # not a test class, whatever pytest's collection rules say about the name

    mode: ModeConfig
    # Settled at session start (pytest-randomly's --randomly-seed=last is only known then).
    seed: SeedChoice
    require_infra: bool
    infra: InfraManager


STATE_KEY = pytest.StashKey[TestkitState]()


def get_state(config: pytest.Config) -> TestkitState:
    try:
        return config.stash[STATE_KEY]
    except KeyError:
        raise RuntimeError(
            "testkit's plugin is not active (was it disabled with -p no:testkit?)"
        ) from None
