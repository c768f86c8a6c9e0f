"""Document rows and full-text search, always scoped to one tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, bindparam, cast, delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, REAL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Document, DocumentStatus
from {{ cookiecutter.package_name }}.outbox import (
    EventType,
    record_event,
)
from {{ cookiecutter.package_name }}.pagination import Cursor
from {{ cookiecutter.package_name }}.schemas import SearchHit
from {{ cookiecutter.package_name }}.search_query import (
    RANK_NORMALIZATION,
    SearchQuery,
    rank_weights,
)

# Pending (mid-ingest) and failed (compensated) documents are nobody's to see or change.
_VISIBLE = Document.status == DocumentStatus.READY


async def create_document(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    title: str,
    body: str,
    idempotency_key: str | None = None,
) -> Document:
    document = Document(
        tenant_id=tenant_id, title=title, body=body, idempotency_key=idempotency_key
    )
    session.add(document)
    await session.flush()
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type=EventType.DOCUMENT_CREATED,
        payload=_event_payload(document),
    )
    return document


@dataclass(frozen=True, slots=True)
class Created:
    """The document, and whether an earlier request with the same key created it."""

    document: Document
    replayed: bool


async def create_document_once(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    title: str,
    body: str,
    idempotency_key: str,
) -> Created:
    """Create the document unless the tenant already did with this key; then return that one.

    A client that lost the response (timeout, crashed server, cut connection) retries with
    the same key and gets the original document, never a second one. Two concurrent requests
    with one key race on the unique constraint: the loser's insert waits for the winner's
    commit, fails, and returns the winner's row.
    """
    existing = await _by_idempotency_key(session, tenant_id=tenant_id, key=idempotency_key)
    if existing is not None:
        return Created(existing, replayed=True)
    try:
        async with session.begin_nested():
            document = await create_document(
                session,
                tenant_id=tenant_id,
                title=title,
                body=body,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        existing = await _by_idempotency_key(session, tenant_id=tenant_id, key=idempotency_key)
        if existing is None:  # the conflict was something else: not ours to hide
            raise
        return Created(existing, replayed=True)
    return Created(document, replayed=False)


async def _by_idempotency_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key: str
) -> Document | None:
    return await session.scalar(
        select(Document).where(Document.tenant_id == tenant_id, Document.idempotency_key == key)
    )


async def get_document(
    session: AsyncSession, *, tenant_id: uuid.UUID, document_id: uuid.UUID
) -> Document | None:
    # Filtering on tenant_id in SQL (not checking it afterwards) makes another
    # tenant's document indistinguishable from a missing one: 404, never 403.
    return await session.scalar(
        select(Document).where(
            Document.id == document_id, Document.tenant_id == tenant_id, _VISIBLE
        )
    )


async def list_documents(
    session: AsyncSession, *, tenant_id: uuid.UUID, limit: int, after: Cursor | None
) -> list[Document]:
    """Newest first; ``limit`` rows at most, starting strictly after ``after``."""
    statement = select(Document).where(Document.tenant_id == tenant_id, _VISIBLE)
    if after is not None:
        statement = statement.where(
            tuple_(Document.created_at, Document.id) < tuple_(after.created_at, after.id)
        )
    statement = statement.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit)
    return list(await session.scalars(statement))


async def update_document(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    document_id: uuid.UUID,
    title: str | None,
    body: str | None,
) -> Document | None:
    document = await get_document(session, tenant_id=tenant_id, document_id=document_id)
    if document is None:
        return None
    if title is not None:
        document.title = title
    if body is not None:
        document.body = body
    await session.flush()
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type=EventType.DOCUMENT_UPDATED,
        payload=_event_payload(document),
    )
    return document


async def delete_document(
    session: AsyncSession, *, tenant_id: uuid.UUID, document_id: uuid.UUID
) -> bool:
    result = await session.execute(
        delete(Document)
        .where(Document.id == document_id, Document.tenant_id == tenant_id, _VISIBLE)
        .returning(Document.id)
    )
    deleted = result.scalar_one_or_none() is not None
    if deleted:
        await record_event(
            session,
            tenant_id=tenant_id,
            event_type=EventType.DOCUMENT_DELETED,
            payload={"document": {"id": str(document_id)}},
        )
    return deleted


async def publish_ingested(session: AsyncSession, *, document: Document) -> None:
    """Make an ingested (pending) document ready and record its document.created event, in
    the caller's transaction: it becomes visible exactly when its event is certain."""
    document.status = DocumentStatus.READY
    await session.flush()
    await record_event(
        session,
        tenant_id=document.tenant_id,
        event_type=EventType.DOCUMENT_CREATED,
        payload=_event_payload(document),
    )


def _event_payload(document: Document) -> dict[str, Any]:
    # The whole document ("fat" event): a subscriber can act without calling back.
    return {
        "document": {
            "id": str(document.id),
            "title": document.title,
            "body": document.body,
            "created_at": document.created_at.isoformat(),
            "updated_at": document.updated_at.isoformat(),
        }
    }


async def search_documents(
    session: AsyncSession, *, tenant_id: uuid.UUID, query: SearchQuery
) -> list[SearchHit]:
    """The tenant's documents matching ``query``, best first (ties broken by id)."""
    tsquery = func.websearch_to_tsquery("english", query.text)
    weights = cast(bindparam("weights", rank_weights(), type_=ARRAY(Float)), ARRAY(REAL))
    rank = func.ts_rank_cd(weights, Document.search_vector, tsquery, RANK_NORMALIZATION)
    rows = await session.execute(
        select(Document.id, Document.title, rank.label("rank"))
        .where(
            Document.tenant_id == tenant_id,
            _VISIBLE,
            Document.search_vector.bool_op("@@")(tsquery),
        )
        .order_by(rank.desc(), Document.id)
        .limit(query.limit)
    )
    return [SearchHit(id=row.id, title=row.title, rank=row.rank) for row in rows]
