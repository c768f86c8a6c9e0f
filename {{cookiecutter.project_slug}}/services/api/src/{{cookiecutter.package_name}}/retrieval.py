"""Retrieval for /ask: a question becomes a ranked full-text search over one tenant's documents.

Matching and ranking are the search endpoint's own (crud.documents.search_documents); this
module only turns a natural-language question into a query and loads the hits' bodies.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.crud import documents
from {{ cookiecutter.package_name }}.models import Document
from {{ cookiecutter.package_name }}.search_query import (
    MAX_QUERY_LENGTH,
    InvalidQueryError,
    SearchQuery,
    normalise_query,
)

_WORD = re.compile(r"[^\W_]+")


class RetrievalIsolationError(RuntimeError):
    """Search returned a document the tenant does not own: a broken invariant, never served."""


@dataclass(frozen=True, slots=True)
class RetrievedDocument:
    id: uuid.UUID
    title: str
    body: str
    rank: float


def question_to_query(question: str, *, limit: int) -> SearchQuery:
    """Any of the question's words (web-search "or"): a question rarely has all its words in
    one document, and ts_rank_cd still ranks documents matching more of them first.

    Only letters and digits pass, so operators ("-", quotes) in the question mean nothing.
    """
    words = list(dict.fromkeys(word.casefold() for word in _WORD.findall(question)))
    # "or" itself would read as the operator; Postgres drops it as a stop word anyway.
    words = [word for word in words if word != "or"]
    if not words:
        raise InvalidQueryError("question must contain at least one letter or digit")
    text = ""
    for word in words:
        candidate = f"{text} or {word}" if text else word
        if len(candidate) > MAX_QUERY_LENGTH:
            break
        text = candidate
    return normalise_query(text or words[0][:MAX_QUERY_LENGTH], limit=limit)


async def retrieve(
    session: AsyncSession, *, tenant_id: uuid.UUID, question: str, top_k: int
) -> list[RetrievedDocument]:
    """The tenant's top ``top_k`` documents for ``question``, best first."""
    hits = await documents.search_documents(
        session, tenant_id=tenant_id, query=question_to_query(question, limit=top_k)
    )
    if not hits:
        return []
    rows = await session.execute(
        select(Document.id, Document.body).where(
            Document.tenant_id == tenant_id, Document.id.in_([hit.id for hit in hits])
        )
    )
    bodies = {row.id: row.body for row in rows}
    foreign = [hit.id for hit in hits if hit.id not in bodies]
    if foreign:
        # Fail loudly instead of quietly dropping: the search's tenant filter is broken and
        # every other caller of it (GET /search) is leaking too.
        raise RetrievalIsolationError(
            f"search returned {len(foreign)} document(s) of another tenant"
        )
    return [
        RetrievedDocument(id=hit.id, title=hit.title, body=bodies[hit.id], rank=hit.rank)
        for hit in hits
    ]
