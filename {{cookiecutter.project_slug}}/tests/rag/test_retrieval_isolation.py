"""Retrieval for /ask never returns another tenant's document, whatever the tenants hold.

Checked at both layers: retrieve() on a real session, and POST /ask (retrieved and cited ids).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from _fixtures.factories import (
    ApiKeyFactory,
    DocumentFactory,
    KeyMaterialFactory,
    Persist,
    TenantFactory,
)

from {{ cookiecutter.package_name }}.retrieval import retrieve

pytestmark = pytest.mark.anyio

# Nouns that are not stop words and do not stem into each other (see the property tier).
VOCABULARY = ("apple", "river", "engine", "quartz", "violet", "harbor", "copper", "lantern")
TENANTS = 3

sentences = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=5).map(
    lambda words: " ".join(words) + "."
)
corpora = st.lists(
    st.tuples(st.integers(0, TENANTS - 1), sentences, sentences), min_size=1, max_size=10
)
questions = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3).map(
    lambda words: "what about " + " ".join(words) + "?"
)


@settings(
    max_examples=15,
    deadline=None,
    # Examples share the database on purpose: earlier examples' rows are more foreign data.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(corpus=corpora, question=questions, top_k=st.integers(1, 8))
async def test_ask_retrieves_and_cites_only_the_callers_documents(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    persist: Persist,
    corpus: list[tuple[int, str, str]],
    question: str,
    top_k: int,
) -> None:
    tenants = TenantFactory.build_batch(TENANTS)
    materials = KeyMaterialFactory.build_batch(TENANTS)
    keys = [
        ApiKeyFactory.build(tenant=t, material=m) for t, m in zip(tenants, materials, strict=True)
    ]
    owned: dict[int, set[uuid.UUID]] = {index: set() for index in range(TENANTS)}
    documents = []
    for index, title, body in corpus:
        document = DocumentFactory.build(tenant=tenants[index], title=title, body=body)
        owned[index].add(document.id)
        documents.append(document)
    await persist.rows(*tenants, *keys, *documents)

    for index, tenant in enumerate(tenants):
        found = await retrieve(db_session, tenant_id=tenant.id, question=question, top_k=top_k)
        assert len(found) <= top_k
        assert {d.id for d in found} <= owned[index], f"tenant {index} retrieved foreign documents"

        response = await client.post(
            "/ask",
            json={"question": question, "top_k": top_k},
            headers={"X-API-Key": materials[index].plaintext},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        retrieved = {uuid.UUID(hit["id"]) for hit in body["retrieved"]}
        cited = {uuid.UUID(citation["id"]) for citation in body["citations"]}
        assert retrieved == {d.id for d in found}
        assert cited <= retrieved <= owned[index]
