"""Example: factory-boy and faker data is random but reproducible from the run's seed.

pytest-randomly reseeds faker and factory-boy before every test from TEST_SEED (printed in the
header), so a failure seen with `seed=N` comes back with `TEST_SEED=N make test`.
"""

from __future__ import annotations

import factory.random
from faker import Faker

from _fixtures.factories import CustomerFactory


def test_the_same_seed_builds_the_same_customers(test_seed: int) -> None:
    factory.random.reseed_random(test_seed)
    first = CustomerFactory.build_batch(5)
    factory.random.reseed_random(test_seed)
    again = CustomerFactory.build_batch(5)

    assert first == again


def test_a_different_seed_builds_different_customers(test_seed: int) -> None:
    factory.random.reseed_random(test_seed)
    first = CustomerFactory.build_batch(5)
    factory.random.reseed_random(test_seed + 1)
    other = CustomerFactory.build_batch(5)

    assert first != other


def test_lazy_attributes_follow_the_generated_fields() -> None:
    customer = CustomerFactory.build(name="Ada Lovelace")

    assert customer.email == "ada@example.com"
    assert customer.credit_limit % 100 == 0
    assert 100 <= customer.credit_limit <= 10_000


def test_the_faker_fixture_is_seeded_per_test(faker: Faker, faker_seed: int) -> None:
    # pytest-randomly derives faker_seed from the run's seed and the test id; a second generator
    # seeded with it produces exactly what the fixture produces.
    twin = Faker("en_US")
    twin.seed_instance(faker_seed)

    assert [faker.name() for _ in range(3)] == [twin.name() for _ in range(3)]
