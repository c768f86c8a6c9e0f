from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from testkit.seeding import SeedChoice, parse_seed, resolve_seed, seed_hypothesis_tests


def test_test_seed_wins_over_pytest_randomly_seed() -> None:
    choice = resolve_seed("42", testkit_source="TEST_SEED", randomly_seed=7)

    assert choice == SeedChoice(42, "TEST_SEED")


def test_an_explicit_randomly_seed_is_used_when_test_seed_is_unset() -> None:
    assert resolve_seed(None, testkit_source="TEST_SEED", randomly_seed=7) == SeedChoice(
        7, "--randomly-seed"
    )


def test_without_any_seed_a_fresh_one_is_chosen() -> None:
    choice = resolve_seed(None, testkit_source="TEST_SEED", randomly_seed="default", fresh=99)

    assert choice == SeedChoice(99, "fresh")


def test_randomly_seed_last_is_left_to_pytest_randomly() -> None:
    assert resolve_seed(None, testkit_source="TEST_SEED", randomly_seed="last") is None


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", ""])
def test_a_seed_that_is_not_a_non_negative_integer_is_rejected_naming_its_source(
    raw: str,
) -> None:
    with pytest.raises(pytest.UsageError, match=r"^TEST_SEED must be a non-negative integer, got "):
        parse_seed(raw, source="TEST_SEED")


def test_no_hypothesis_test_is_seeded_and_hypothesis_not_imported_when_no_module_used_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Importing hypothesis costs a third of a second: a run whose tests never imported it (so
    # none is a Hypothesis test) must not pay it.
    monkeypatch.delitem(sys.modules, "hypothesis", raising=False)
    config = SimpleNamespace(option=SimpleNamespace(hypothesis_seed=None))
    item = SimpleNamespace(function=lambda: None)

    seeded = seed_hypothesis_tests(config, [item], 123)  # type: ignore[arg-type]

    assert seeded == 0
    assert "hypothesis" not in sys.modules
