"""`make generate-fixtures`: demo data for `make serve`, built by the suite's own factories.

Tenants, API keys and documents come from tests/_fixtures/factories.py, seeded with --seed
(TEST_SEED, default 1): the same seed writes the same rows. They go to the database `make serve`
uses (APP_DATABASE_URL, migrated first by the make target), keys hashed with its
APP_API_KEY_PEPPER, and the plaintext keys are printed so the API can be tried at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import factory.random

from _fixtures.factories import ApiKeyFactory, DocumentFactory, KeyMaterialFactory, TenantFactory

from {{ cookiecutter.package_name }}.db import create_engine, create_sessionmaker
from {{ cookiecutter.package_name }}.settings import Settings


@dataclass(frozen=True, slots=True)
class GeneratedTenant:
    name: str
    tenant_id: str
    api_key: str
    documents: int


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="generate-fixtures", description=__doc__)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("TEST_SEED") or 1))
    parser.add_argument("--tenants", type=positive, default=3, help="how many tenants (3)")
    parser.add_argument("--documents", type=positive, default=20, help="per tenant (20)")
    return parser


async def generate(
    settings: Settings, *, seed: int, tenants: int, documents: int
) -> list[GeneratedTenant]:
    """Write `tenants` tenants, one API key and `documents` documents each; one transaction."""
    factory.random.reseed_random(seed)  # faker and factory-boy, as pytest-randomly does
    pepper = settings.api_key_pepper.get_secret_value()
    engine = create_engine(settings)
    generated: list[GeneratedTenant] = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for _ in range(tenants):
                tenant = TenantFactory.build()
                material = KeyMaterialFactory.build()
                key = ApiKeyFactory.build(tenant=tenant, material=material, pepper=pepper)
                rows = DocumentFactory.build_batch(documents, tenant=tenant)
                session.add_all([tenant, key, *rows])
                generated.append(
                    GeneratedTenant(tenant.name, str(tenant.id), material.plaintext, len(rows))
                )
    finally:
        await engine.dispose()
    return generated


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    generated = asyncio.run(
        generate(
            Settings(),
            seed=arguments.seed,
            tenants=arguments.tenants,
            documents=arguments.documents,
        )
    )
    print(f"{'tenant':<32} {'tenant id':<36} documents  api key (X-API-Key)")
    for row in generated:
        print(f"{row.name[:32]:<32} {row.tenant_id:<36} {row.documents:>9}  {row.api_key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
