{%- if cookiecutter.include_sample_service == 'yes' -%}
"""factory-boy + faker factories for the service's rows, plain (build) and persisted.

``TenantFactory.build()`` and friends make unsaved model objects; the ``persist``
fixture writes them through the service's own session. pytest-randomly reseeds faker
and factory-boy before every test, so the values repeat for a given TEST_SEED.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import factory
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from _fixtures.service import TEST_API_KEY_PEPPER

from {{ cookiecutter.package_name }} import credentials
from {{ cookiecutter.package_name }}.models import (
    ApiKey,
    Base,
    Document,
    Tenant,
)

_SECRET_ALPHABET = string.ascii_letters + string.digits + "-_"


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """The two halves of an API key, before hashing; ``plaintext`` is what clients send."""

    key_id: str
    secret: str

    @property
    def plaintext(self) -> str:
        return f"{credentials.KEY_PREFIX}_{self.key_id}_{self.secret}"


class KeyMaterialFactory(factory.Factory[KeyMaterial]):
    class Meta:
        model = KeyMaterial

    # Drawn from faker (not `secrets`) so a seed reproduces them.
    key_id = factory.Faker("hexify", text="^" * 16)
    secret = factory.Faker("lexify", text="?" * 43, letters=_SECRET_ALPHABET)


class TenantFactory(factory.Factory[Tenant]):
    class Meta:
        model = Tenant

    id = factory.Faker("uuid4", cast_to=None)
    name = factory.Faker("company")
    created_at = factory.Faker("date_time_this_decade", tzinfo=UTC)


class ApiKeyFactory(factory.Factory[ApiKey]):
    """An API key row. Pass ``material=`` to keep the plaintext for requests."""

    class Meta:
        model = ApiKey

    class Params:
        material = factory.SubFactory(KeyMaterialFactory)
        pepper = TEST_API_KEY_PEPPER

    tenant = factory.SubFactory(TenantFactory)
    id = factory.Faker("uuid4", cast_to=None)
    tenant_id = factory.SelfAttribute("tenant.id")
    key_id = factory.SelfAttribute("material.key_id")
    secret_hash = factory.LazyAttribute(
        lambda o: credentials.hash_secret(
            key_id=o.material.key_id, secret=o.material.secret, pepper=o.pepper
        )
    )
    name = factory.Faker("word")
    created_at = factory.Faker("date_time_this_decade", tzinfo=UTC)
    revoked_at = None


class DocumentFactory(factory.Factory[Document]):
    class Meta:
        model = Document

    tenant = factory.SubFactory(TenantFactory)
    id = factory.Faker("uuid4", cast_to=None)
    tenant_id = factory.SelfAttribute("tenant.id")
    title = factory.Faker("sentence", nb_words=5)
    body = factory.Faker("paragraph", nb_sentences=4)
    created_at = factory.Faker("date_time_this_decade", tzinfo=UTC)
    updated_at = factory.SelfAttribute("created_at")


@dataclass(frozen=True, slots=True)
class PersistedKey:
    row: ApiKey
    plaintext: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.plaintext}


class Persist:
    """Build with the factories and save through the service's session (committed)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def rows(self, *rows: Base) -> None:
        self._session.add_all(rows)
        await self._session.commit()

    async def tenant(self, **fields: Any) -> Tenant:
        tenant = TenantFactory.build(**fields)
        await self.rows(tenant)
        return tenant

    async def api_key(self, *, tenant: Tenant, **fields: Any) -> PersistedKey:
        material = KeyMaterialFactory.build()
        row = ApiKeyFactory.build(tenant=tenant, material=material, **fields)
        await self.rows(row)
        return PersistedKey(row=row, plaintext=material.plaintext)

    async def documents(self, count: int, *, tenant: Tenant, **fields: Any) -> list[Document]:
        documents = DocumentFactory.build_batch(count, tenant=tenant, **fields)
        await self.rows(*documents)
        return documents

    async def document(self, *, tenant: Tenant, **fields: Any) -> Document:
        [document] = await self.documents(1, tenant=tenant, **fields)
        return document


@pytest.fixture
def persist(db_session: AsyncSession) -> Persist:
    return Persist(db_session)
{%- else -%}
"""factory-boy + faker factories: an example to copy for your own models.

pytest-randomly reseeds faker and factory-boy before every test, so the values repeat
for a given TEST_SEED. Point ``Meta.model`` at your own classes (dataclasses, pydantic
models or ORM rows), build them with ``Factory.build()`` / ``build_batch()``, and
write a fixture that saves them through your own database session.
"""

from __future__ import annotations

from dataclasses import dataclass

import factory


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    credit_limit: int


class CustomerFactory(factory.Factory[Customer]):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.LazyAttribute(
        lambda customer: f"{customer.name.split()[0].lower()}@example.com"
    )
    credit_limit = factory.Faker("pyint", min_value=100, max_value=10_000, step=100)
{%- endif %}
