"""recall@k of /ask's retrieval on the labelled corpus must not fall below the committed floor.

Another tenant holds a copy of the whole corpus under other ids: a leak would show up as a
foreign id among the results, and the copies compete for no rank in the owner's results.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from _fixtures.factories import DocumentFactory, Persist
from _helpers.labelled_corpus import load_corpus

pytestmark = pytest.mark.anyio

FLOOR_PATH = Path(__file__).with_name("recall_floor.json")


def recall_at_k(retrieved: list[uuid.UUID], relevant: frozenset[uuid.UUID], k: int) -> float:
    return len(set(retrieved[:k]) & relevant) / len(relevant)


def test_recall_at_k_counts_relevant_documents_in_the_first_k() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert recall_at_k([a, b, c], frozenset({a, c}), k=2) == 0.5
    assert recall_at_k([c, a], frozenset({a, c}), k=2) == 1.0


async def test_recall_at_k_meets_the_committed_floor(
    client: httpx.AsyncClient, persist: Persist
) -> None:
    floor = json.loads(FLOOR_PATH.read_text())
    k, minimum = int(floor["k"]), float(floor["recall_at_k"])
    corpus = load_corpus()
    owner = await persist.tenant()
    key = await persist.api_key(tenant=owner)
    neighbour = await persist.tenant()
    await persist.rows(
        *(
            DocumentFactory.build(tenant=owner, id=d.id, title=d.title, body=d.body)
            for d in corpus.documents
        ),
        *(
            DocumentFactory.build(tenant=neighbour, title=d.title, body=d.body)
            for d in corpus.documents
        ),
    )
    own_ids = {d.id for d in corpus.documents}

    scores: dict[str, float] = {}
    for query in corpus.queries:
        response = await client.post(
            "/ask", json={"question": query.question, "top_k": k}, headers=key.headers
        )
        assert response.status_code == 200, response.text
        retrieved = [uuid.UUID(hit["id"]) for hit in response.json()["retrieved"]]
        assert set(retrieved) <= own_ids, f"{query.question!r} retrieved another tenant's document"
        scores[query.question] = recall_at_k(retrieved, query.relevant, k)

    mean = sum(scores.values()) / len(scores)
    misses = {question: score for question, score in scores.items() if score < 1.0}
    assert mean >= minimum, f"recall@{k} = {mean:.3f} < floor {minimum} (misses: {misses})"
