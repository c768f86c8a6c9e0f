"""Operator endpoints, guarded by the admin token (X-Admin-Token)."""

from __future__ import annotations

from fastapi import APIRouter, status

from {{ cookiecutter.package_name }}.crud import api_keys, tenants
from {{ cookiecutter.package_name }}.dependencies import (
    AdminDep,
    SessionDep,
    SettingsDep,
)
from {{ cookiecutter.package_name }}.schemas import (
    ApiKeyCreated,
    ApiKeyOut,
    TenantCreate,
    TenantCreated,
    TenantOut,
)

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
async def create_tenant(
    body: TenantCreate, session: SessionDep, settings: SettingsDep
) -> TenantCreated:
    """Create a tenant and its first API key. The key is in this response only."""
    tenant = await tenants.create_tenant(session, name=body.name)
    key_row, plaintext = await api_keys.create_api_key(
        session,
        tenant_id=tenant.id,
        name="initial",
        pepper=settings.api_key_pepper.get_secret_value(),
    )
    await session.commit()
    return TenantCreated(
        tenant=TenantOut.model_validate(tenant),
        api_key=ApiKeyCreated(**ApiKeyOut.model_validate(key_row).model_dump(), key=plaintext),
    )
