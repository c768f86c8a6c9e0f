"""The caller's documents: create, read, list, update, delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status

from {{ cookiecutter.package_name }}.crud import documents
from {{ cookiecutter.package_name }}.dependencies import (
    PrincipalDep,
    SearchCacheDep,
    SessionDep,
)
from {{ cookiecutter.package_name }}.models import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    Document,
)
from {{ cookiecutter.package_name }}.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Cursor,
    InvalidCursorError,
    decode_cursor,
    page_window,
)
from {{ cookiecutter.package_name }}.schemas import (
    DocumentCreate,
    DocumentOut,
    DocumentPage,
    DocumentUpdate,
)

router = APIRouter(prefix="/documents", tags=["documents"])


def _not_found() -> HTTPException:
    # The same answer for "does not exist" and "belongs to another tenant".
    return HTTPException(status.HTTP_404_NOT_FOUND, detail="document not found")


REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        pattern=r"^[!-~]+$",
        description=(
            "A client-chosen key (printable ASCII, e.g. a UUID) making the create safe to "
            "retry: a later request of the same tenant with the same key creates nothing and "
            f"returns the original document, with `{REPLAYED_HEADER}: true`. Retry with the "
            "same key whenever a create's outcome is unknown (timeout, cut connection, 503)."
        ),
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_201_CREATED: {
            "headers": {
                REPLAYED_HEADER: {
                    "description": "`true` when an earlier request with the same "
                    "Idempotency-Key created this document (nothing new was created).",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        }
    },
)
async def create_document(
    body: DocumentCreate,
    principal: PrincipalDep,
    session: SessionDep,
    cache: SearchCacheDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DocumentOut:
    if idempotency_key is None:
        document = await documents.create_document(
            session, tenant_id=principal.tenant_id, title=body.title, body=body.body
        )
    else:
        created = await documents.create_document_once(
            session,
            tenant_id=principal.tenant_id,
            title=body.title,
            body=body.body,
            idempotency_key=idempotency_key,
        )
        document = created.document
        if created.replayed:
            response.headers[REPLAYED_HEADER] = "true"
            return DocumentOut.model_validate(document)
    await session.commit()
    await cache.invalidate(tenant_id=principal.tenant_id)
    return DocumentOut.model_validate(document)


@router.get("")
async def list_documents(
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DocumentPage:
    """Newest first. Follow ``next_cursor`` until it is null."""
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except InvalidCursorError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    rows = await documents.list_documents(
        session, tenant_id=principal.tenant_id, limit=limit + 1, after=after
    )
    window = page_window([_cursor_of(row) for row in rows], limit=limit)
    return DocumentPage(
        items=[DocumentOut.model_validate(row) for row in rows[: window.size]],
        next_cursor=window.next_cursor,
    )


def _cursor_of(document: Document) -> Cursor:
    return Cursor(created_at=document.created_at, id=document.id)


@router.get("/{document_id}")
async def get_document(
    document_id: uuid.UUID, principal: PrincipalDep, session: SessionDep
) -> DocumentOut:
    document = await documents.get_document(
        session, tenant_id=principal.tenant_id, document_id=document_id
    )
    if document is None:
        raise _not_found()
    return DocumentOut.model_validate(document)


@router.patch("/{document_id}")
async def update_document(
    document_id: uuid.UUID,
    body: DocumentUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    cache: SearchCacheDep,
) -> DocumentOut:
    document = await documents.update_document(
        session,
        tenant_id=principal.tenant_id,
        document_id=document_id,
        title=body.title,
        body=body.body,
    )
    if document is None:
        raise _not_found()
    await session.commit()
    await cache.invalidate(tenant_id=principal.tenant_id)
    return DocumentOut.model_validate(document)


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(
    document_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, cache: SearchCacheDep
) -> Response:
    deleted = await documents.delete_document(
        session, tenant_id=principal.tenant_id, document_id=document_id
    )
    if not deleted:
        raise _not_found()
    await session.commit()
    await cache.invalidate(tenant_id=principal.tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
