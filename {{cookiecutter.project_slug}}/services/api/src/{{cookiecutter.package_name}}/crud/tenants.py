"""Tenant rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Tenant


async def create_tenant(session: AsyncSession, *, name: str) -> Tenant:
    tenant = Tenant(name=name)
    session.add(tenant)
    await session.flush()
    return tenant
