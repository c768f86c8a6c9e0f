"""A tiny deterministic retriever: what the rag examples measure (recall@k, owner isolation).

Ranks an owner's documents by how many distinct query words they contain. Real retrieval
(full-text search, embeddings) plugs into the same tests: the labelled corpus, the recall
floor and the isolation property do not care how the ranking is computed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    owner: str
    text: str


def words(text: str) -> frozenset[str]:
    """Lower-cased alphanumeric words; punctuation and case never decide a match."""
    return frozenset(_WORD.findall(text.lower()))


def retrieve(documents: Iterable[Document], *, owner: str, query: str, k: int) -> list[str]:
    """Ids of ``owner``'s ``k`` best documents for ``query``: most shared words first, ties by id.

    Documents sharing no word with the query are never returned. Another owner's documents are
    dropped before ranking, so they can neither appear nor push the owner's out of the top k.
    """
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    wanted = words(query)
    scored = [
        (len(wanted & words(document.text)), document.id)
        for document in documents
        if document.owner == owner
    ]
    ranked = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1]))
    return [document_id for _, document_id in ranked[:k]]


def recall_at_k(retrieved: Sequence[str], relevant: frozenset[str], k: int) -> float:
    """The share of the relevant documents found among the first ``k`` retrieved."""
    if not relevant:
        raise ValueError("relevant must name at least one document")
    return len(set(retrieved[:k]) & relevant) / len(relevant)
