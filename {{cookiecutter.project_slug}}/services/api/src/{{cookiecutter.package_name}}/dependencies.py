"""Request dependencies, exposed as Annotated aliases for the routers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }} import credentials
from {{ cookiecutter.package_name }}.crud import api_keys
from {{ cookiecutter.package_name }}.rate_limit import RateLimiter
from {{ cookiecutter.package_name }}.resources import Resources
from {{ cookiecutter.package_name }}.search_cache import (
    SearchCache,
)
from {{ cookiecutter.package_name }}.settings import Settings

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")
_admin_header = APIKeyHeader(name="X-Admin-Token", auto_error=False, scheme_name="AdminToken")


async def get_resources(request: Request) -> Resources:
    # The dependencies here are async although they do no I/O: FastAPI runs a plain `def`
    # dependency on a worker thread, and starting a thread is what fails first when the
    # process is short of memory (RLIMIT_AS, a container limit), turning requests into 500s.
    return cast(Resources, request.app.state.resources)


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings(resources: ResourcesDep) -> Settings:
    return resources.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    async with resources.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_search_cache(resources: ResourcesDep) -> SearchCache:
    return resources.search_cache


SearchCacheDep = Annotated[SearchCache, Depends(get_search_cache)]


async def get_rate_limiter(resources: ResourcesDep) -> RateLimiter:
    return resources.rate_limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant always comes from the key, never from the request."""

    tenant_id: uuid.UUID
    api_key_id: uuid.UUID


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticate(
    session: SessionDep,
    settings: SettingsDep,
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    presented = api_key or (bearer.credentials if bearer is not None else None)
    if not presented:
        raise _unauthorized("missing API key: send X-API-Key or Authorization: Bearer <key>")
    row = await api_keys.authenticate(
        session, presented=presented, pepper=settings.api_key_pepper.get_secret_value()
    )
    if row is None:
        raise _unauthorized("invalid or revoked API key")
    return Principal(tenant_id=row.tenant_id, api_key_id=row.id)


async def rate_limited_principal(
    principal: Annotated[Principal, Depends(authenticate)], limiter: RateLimiterDep
) -> Principal:
    decision = await limiter.hit(principal.tenant_id)
    if decision.allowed:
        return principal
    if not decision.backend_available:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="rate limiter unavailable and APP_RATE_LIMIT_FAIL_OPEN is false",
            headers={"Retry-After": str(decision.retry_after)},
        )
    raise HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"rate limit of {decision.limit} requests per minute exceeded",
        headers={"Retry-After": str(decision.retry_after)},
    )


PrincipalDep = Annotated[Principal, Depends(rate_limited_principal)]


async def require_admin(
    settings: SettingsDep, token: Annotated[str | None, Security(_admin_header)]
) -> None:
    if token is None or not credentials.tokens_match(
        token, settings.admin_token.get_secret_value()
    ):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing or wrong X-Admin-Token")


AdminDep = Depends(require_admin)
