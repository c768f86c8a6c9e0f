"""Ranked full-text search over the caller's documents, cached in Redis."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from {{ cookiecutter.package_name }}.crud import documents
from {{ cookiecutter.package_name }}.dependencies import (
    PrincipalDep,
    SearchCacheDep,
    SessionDep,
)
from {{ cookiecutter.package_name }}.schemas import (
    SearchHit,
    SearchResults,
)
from {{ cookiecutter.package_name }}.search_query import (
    DEFAULT_RESULT_LIMIT,
    MAX_RAW_QUERY_LENGTH,
    MAX_RESULT_LIMIT,
    InvalidQueryError,
    normalise_query,
)

router = APIRouter(tags=["search"])

# Reports whether the results came from the cache (hit), were computed and cached
# (miss), or were computed with Redis unavailable (bypass).
CACHE_HEADER = "X-Cache"


@router.get("/search")
async def search(
    principal: PrincipalDep,
    session: SessionDep,
    cache: SearchCacheDep,
    response: Response,
    q: Annotated[str, Query(min_length=1, max_length=MAX_RAW_QUERY_LENGTH)],
    limit: Annotated[int, Query(ge=1, le=MAX_RESULT_LIMIT)] = DEFAULT_RESULT_LIMIT,
) -> SearchResults:
    """Documents matching ``q`` (web-search syntax: "phrases", or, -exclusion), best first."""
    try:
        query = normalise_query(q, limit=limit)
    except InvalidQueryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc

    async def run_query() -> list[SearchHit]:
        return await documents.search_documents(session, tenant_id=principal.tenant_id, query=query)

    result = await cache.get_or_compute(
        tenant_id=principal.tenant_id, query=query, compute=run_query
    )
    response.headers[CACHE_HEADER] = result.outcome.value
    return SearchResults(query=query.text, hits=result.hits)
