"""TEST_SEED: one seed for the run, handed to pytest-randomly, plus what pytest-randomly leaves out.

pytest-randomly shuffles the order and reseeds `random`, faker and factory-boy before every test
from its `--randomly-seed`. Hypothesis draws from its own generator, which nothing seeds, so each
Hypothesis test gets the run's seed through Hypothesis's public `@seed` decorator, so the seed in
the header reproduces its data too. The price: a seeded test does not replay Hypothesis's example
database (Hypothesis turns it off for seeded tests). Left alone: tests with their own `@seed`, runs
with `--hypothesis-seed`, and profiles with `derandomize=True` (the CI profile), which stay
derandomized and keep replaying the shared example database.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import Protocol

import pytest

# pytest-randomly's own range (random.Random().getrandbits(32)).
_SEED_BITS = 32


@dataclass(frozen=True, slots=True)
class SeedChoice:
    """The run's seed and where it came from."""

    seed: int
    source: str


def parse_seed(raw: str, *, source: str) -> int:
    """A non-negative integer seed, or a usage error naming where the bad value came from."""
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise pytest.UsageError(f"{source} must be a non-negative integer, got {raw!r}") from None
    if value < 0:
        raise pytest.UsageError(f"{source} must be a non-negative integer, got {raw!r}")
    return value


def resolve_seed(
    testkit_seed: str | None,
    *,
    testkit_source: str,
    randomly_seed: object,
    fresh: int | None = None,
) -> SeedChoice | None:
    """Pick the run's seed: TEST_SEED (or --testkit-seed), else --randomly-seed, else a fresh one.

    randomly_seed is pytest-randomly's option value: an int, "last" or "default". None means
    "--randomly-seed=last": pytest-randomly reads its cache, and the seed is known after it
    configures.
    """
    if testkit_seed is not None:
        return SeedChoice(parse_seed(testkit_seed, source=testkit_source), testkit_source)
    if isinstance(randomly_seed, int):
        return SeedChoice(randomly_seed, "--randomly-seed")
    if randomly_seed == "last":
        return None
    seed = fresh if fresh is not None else random.Random().getrandbits(_SEED_BITS)
    return SeedChoice(seed, "fresh")


def worker_seed(config: pytest.Config) -> int | None:
    """Under xdist, the seed the controller resolved (workers must not pick their own)."""
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict) and "testkit_seed" in workerinput:
        return int(workerinput["testkit_seed"])
    return None


def apply_seed(config: pytest.Config, choice: SeedChoice) -> None:
    """Hand the seed to pytest-randomly and Hypothesis; call before either configures."""
    # pytest-randomly reads config.option.randomly_seed in its own pytest_configure (and under
    # xdist ships it to the workers): an int there makes it use ours.
    if config.pluginmanager.hasplugin("randomly"):
        config.option.randomly_seed = choice.seed


def seed_hypothesis_tests(config: pytest.Config, items: list[pytest.Item], seed: int) -> int:
    """Give every Hypothesis test without a seed of its own the run's seed; returns how many."""
    if getattr(config.option, "hypothesis_seed", None) is not None:
        return 0
    # A Hypothesis test is decorated with @given, so its module imported hypothesis while it was
    # collected. When none did, there is nothing to seed, and importing it here would cost the
    # run a third of a second (160 us a test on 2,000 trivial tests).
    hypothesis = sys.modules.get("hypothesis")
    if hypothesis is None:
        return 0

    profile = hypothesis.settings.default
    if profile is not None and profile.derandomize:
        return 0
    seeded = 0
    for item in items:
        function = getattr(item, "function", None)
        if function is None or not hypothesis.is_hypothesis_test(function):
            continue
        # The attribute @seed sets; Hypothesis has no public reader for it.
        if getattr(function, "_hypothesis_internal_use_seed", None) is None:
            hypothesis.seed(seed)(function)
            seeded += 1
    return seeded


class HasSeed(Protocol):
    seed: SeedChoice


class XdistSeedHooks:
    """Registered only when xdist is active: sends the controller's seed to every worker."""

    def __init__(self, state: HasSeed) -> None:
        self._state = state

    def pytest_configure_node(self, node: object) -> None:
        workerinput = getattr(node, "workerinput", None)
        if isinstance(workerinput, dict):
            workerinput["testkit_seed"] = self._state.seed.seed
