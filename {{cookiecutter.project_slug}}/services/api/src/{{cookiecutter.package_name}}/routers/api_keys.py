"""A tenant's own API keys: create, list, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status

from {{ cookiecutter.package_name }}.crud import api_keys
from {{ cookiecutter.package_name }}.dependencies import (
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from {{ cookiecutter.package_name }}.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
)

router = APIRouter(prefix="/keys", tags=["api keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> ApiKeyCreated:
    """Issue another key for the caller's tenant. The key is in this response only."""
    row, plaintext = await api_keys.create_api_key(
        session,
        tenant_id=principal.tenant_id,
        name=body.name,
        pepper=settings.api_key_pepper.get_secret_value(),
    )
    await session.commit()
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=plaintext)


@router.get("")
async def list_api_keys(principal: PrincipalDep, session: SessionDep) -> list[ApiKeyOut]:
    rows = await api_keys.list_api_keys(session, tenant_id=principal.tenant_id)
    return [ApiKeyOut.model_validate(row) for row in rows]


@router.delete("/{api_key_id}")
async def revoke_api_key(
    api_key_id: uuid.UUID, principal: PrincipalDep, session: SessionDep
) -> ApiKeyOut:
    """Revoke a key of the caller's tenant; requests with it get 401 from now on."""
    try:
        row = await api_keys.revoke_api_key(
            session, tenant_id=principal.tenant_id, api_key_id=api_key_id
        )
    except api_keys.LastActiveKeyError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="API key not found")
    await session.commit()
    return ApiKeyOut.model_validate(row)
