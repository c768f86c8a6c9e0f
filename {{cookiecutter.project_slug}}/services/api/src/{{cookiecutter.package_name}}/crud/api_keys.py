"""API key rows: issue, authenticate, list, revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }} import credentials
from {{ cookiecutter.package_name }}.models import ApiKey, Tenant


class LastActiveKeyError(Exception):
    """Revoking this key would leave the tenant with no way to authenticate."""


async def create_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, name: str, pepper: str
) -> tuple[ApiKey, str]:
    """Store a new key's hash; return the row and the plaintext key (shown once)."""
    issued = credentials.issue_key(pepper=pepper)
    row = ApiKey(
        tenant_id=tenant_id, key_id=issued.key_id, secret_hash=issued.secret_hash, name=name
    )
    session.add(row)
    await session.flush()
    return row, issued.plaintext


async def authenticate(session: AsyncSession, *, presented: str, pepper: str) -> ApiKey | None:
    """The active key matching ``presented``, or None (malformed, unknown, wrong or revoked)."""
    parsed = credentials.parse_key(presented)
    if parsed is None:
        return None
    row = await session.scalar(
        select(ApiKey).where(ApiKey.key_id == parsed.key_id, ApiKey.revoked_at.is_(None))
    )
    if row is None or not credentials.verify_secret(
        key=parsed, secret_hash=row.secret_hash, pepper=pepper
    ):
        return None
    return row


async def list_api_keys(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[ApiKey]:
    result = await session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(result)


async def revoke_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, api_key_id: uuid.UUID
) -> ApiKey | None:
    """Revoke one of the tenant's keys (idempotent); None when the tenant has no such key."""
    # Locking the tenant row serialises its revocations: two concurrent requests
    # cannot each revoke one of the last two keys and lock the tenant out.
    await session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
    row = await session.scalar(
        select(ApiKey).where(ApiKey.id == api_key_id, ApiKey.tenant_id == tenant_id)
    )
    if row is None or row.revoked_at is not None:
        return row
    active = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
    )
    if active == 1:
        raise LastActiveKeyError("cannot revoke the tenant's last active key; create another first")
    row.revoked_at = datetime.now(UTC)
    await session.flush()
    return row
