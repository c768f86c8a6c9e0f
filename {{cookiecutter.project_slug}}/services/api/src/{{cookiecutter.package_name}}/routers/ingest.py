"""URL ingest: fetch a web page into a document of the caller's tenant.

Failures are the caller's to fix, so all are 4xx with one line of reason:
422 the URL is unusable (syntax, scheme, credentials) or the page could not be fetched
(unresolvable, unreachable, error status, too slow, too many redirects, not text);
403 the URL, or a redirect from it, leads to a non-public address (SSRF guard);
413 the page is over APP_INGEST_MAX_BYTES or its text over the document limit.
Past the fetch, the ingest is a saga (ingest_saga.py): a later step that fails is rolled back
and compensated, and the caller gets 503 with Retry-After (the failure is ours, not theirs).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import Field

from {{ cookiecutter.package_name }}.dependencies import (
    PrincipalDep,
    ResourcesDep,
    SearchCacheDep,
    SettingsDep,
)
from {{ cookiecutter.package_name }}.ingest import (
    ContentTooLargeError,
    FetchFailedError,
    FetchPolicy,
    UnsupportedContentError,
    UrlFetcher,
)
from {{ cookiecutter.package_name }}.ingest_saga_runner import (
    IngestFailedError,
    IngestSagaRunner,
    SagaAbandonedError,
)
from {{ cookiecutter.package_name }}.schemas import (
    DocumentOut,
    RequestBody,
)
from {{ cookiecutter.package_name }}.ssrf import (
    MAX_URL_LENGTH,
    BlockedDestinationError,
    InvalidUrlError,
    SystemResolver,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/documents", tags=["documents"])

_STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (InvalidUrlError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (FetchFailedError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (UnsupportedContentError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (BlockedDestinationError, status.HTTP_403_FORBIDDEN),
    (ContentTooLargeError, status.HTTP_413_CONTENT_TOO_LARGE),
)
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {"description": "The URL leads to a non-public address."},
    status.HTTP_413_CONTENT_TOO_LARGE: {"description": "The page is too large."},
}


class IngestRequest(RequestBody):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description="An http or https URL.")


async def get_url_fetcher(settings: SettingsDep) -> UrlFetcher:
    """The fetcher for this request; tests override this dependency to fake DNS and hosts."""
    return UrlFetcher(FetchPolicy.from_settings(settings), resolver=SystemResolver())


UrlFetcherDep = Annotated[UrlFetcher, Depends(get_url_fetcher)]


async def get_ingest_saga(resources: ResourcesDep) -> IngestSagaRunner:
    """The saga runner; tests override this dependency to inject a failure at a step."""
    return IngestSagaRunner(resources.sessionmaker)


IngestSagaDep = Annotated[IngestSagaRunner, Depends(get_ingest_saga)]


@router.post("/ingest", status_code=status.HTTP_201_CREATED, responses=_ERROR_RESPONSES)
async def ingest_url(
    body: IngestRequest,
    principal: PrincipalDep,
    cache: SearchCacheDep,
    fetcher: UrlFetcherDep,
    saga: IngestSagaDep,
) -> DocumentOut:
    """Fetch an http(s) page (HTML is reduced to text) and store it as a new document."""
    try:
        document = await saga.run(tenant_id=principal.tenant_id, url=body.url, fetcher=fetcher)
    except (IngestFailedError, SagaAbandonedError) as exc:
        logger.warning("ingest failed for tenant %s: %s", principal.tenant_id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"{exc}; retry shortly",
            headers={"Retry-After": "1"},
        ) from exc
    except tuple(error for error, _ in _STATUS_OF) as exc:
        status_code = next(code for error, code in _STATUS_OF if isinstance(exc, error))
        # The tenant and the reason, never the URL: a query string can carry tokens.
        logger.info("ingest refused for tenant %s: %s", principal.tenant_id, exc)
        raise HTTPException(status_code, detail=str(exc)) from exc
    await cache.invalidate(tenant_id=principal.tenant_id)
    return DocumentOut.model_validate(document)
