"""The caller's document statistics, read from the document projection (a CQRS read model)."""

from __future__ import annotations

from fastapi import APIRouter

from {{ cookiecutter.package_name }} import projection
from {{ cookiecutter.package_name }}.dependencies import (
    PrincipalDep,
    SessionDep,
)
from {{ cookiecutter.package_name }}.schemas import DocumentStats

router = APIRouter(tags=["projections"])


@router.get("/document-stats")
async def document_stats(principal: PrincipalDep, session: SessionDep) -> DocumentStats:
    """Counts and last-ingest time of the caller's documents, as the event consumer has
    applied them so far (they follow writes within moments, not in the same request)."""
    totals = await projection.tenant_totals(session, tenant_id=principal.tenant_id)
    if totals is None:
        return DocumentStats(
            documents=0,
            documents_created=0,
            documents_updated=0,
            documents_deleted=0,
            last_ingest_at=None,
            last_event_at=None,
            last_event_id=0,
            events_applied=0,
        )
    return DocumentStats(
        documents=totals.documents,
        documents_created=totals.documents_created,
        documents_updated=totals.documents_updated,
        documents_deleted=totals.documents_deleted,
        last_ingest_at=totals.last_ingest_at,
        last_event_at=totals.last_event_at,
        last_event_id=totals.last_event_id,
        events_applied=totals.events_applied,
    )
