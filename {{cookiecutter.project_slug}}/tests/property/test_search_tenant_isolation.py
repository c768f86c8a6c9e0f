"""Search never returns another tenant's document, and returns every matching own one.

Real Postgres and Redis through the HTTP app: isolation could break in the SQL, in the
router, or in the cache key, so the property is checked end to end, cold and cached.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fixtures.factories import (
    ApiKeyFactory,
    DocumentFactory,
    KeyMaterialFactory,
    Persist,
    TenantFactory,
)

pytestmark = pytest.mark.anyio

# Plain English nouns that are neither stop words nor stemmed into each other, so
# "document contains word" and "Postgres matches word" mean the same thing.
VOCABULARY = ("apple", "river", "engine", "quartz", "violet", "harbor", "copper", "lantern")

words = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4)
documents = st.lists(st.tuples(st.integers(0, 2), words, words), min_size=1, max_size=12)


@settings(
    max_examples=25,
    deadline=None,
    # Every example creates fresh tenants, so the data earlier examples left behind
    # only adds foreign documents that must stay invisible: sharing is the point.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(corpus=documents, query=st.sampled_from(VOCABULARY))
async def test_search_returns_exactly_the_tenants_own_matching_documents(
    client: httpx.AsyncClient,
    persist: Persist,
    corpus: list[tuple[int, list[str], list[str]]],
    query: str,
) -> None:
    tenants = TenantFactory.build_batch(3)
    materials = KeyMaterialFactory.build_batch(3)
    keys = [
        ApiKeyFactory.build(tenant=tenant, material=material)
        for tenant, material in zip(tenants, materials, strict=True)
    ]
    documents = []
    owner_of: dict[uuid.UUID, int] = {}
    matching: dict[int, set[uuid.UUID]] = {index: set() for index in range(3)}
    for index, title, body in corpus:
        document = DocumentFactory.build(
            tenant=tenants[index], title=" ".join(title), body=" ".join(body)
        )
        documents.append(document)
        owner_of[document.id] = index
        if query in title or query in body:
            matching[index].add(document.id)
    # One commit per example keeps examples cheap, so a failure also shrinks quickly.
    await persist.rows(*tenants, *keys, *documents)

    for index, material in enumerate(materials):
        for attempt in ("cold", "cached"):
            response = await client.get(
                "/search",
                params={"q": query, "limit": 50},
                headers={"X-API-Key": material.plaintext},
            )
            assert response.status_code == 200, response.text
            found = {uuid.UUID(hit["id"]) for hit in response.json()["hits"]}
            foreign = {doc for doc in found if owner_of.get(doc) != index}
            assert not foreign, f"tenant {index} ({attempt}) saw other tenants' documents"
            assert found == matching[index], f"tenant {index} ({attempt}) missed documents"
