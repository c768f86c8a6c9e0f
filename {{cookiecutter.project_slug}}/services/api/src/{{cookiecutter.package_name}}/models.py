"""Database tables. migrations/versions holds the DDL that creates them; keep both in step."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 100_000
NAME_MAX_LENGTH = 100
IDEMPOTENCY_KEY_MAX_LENGTH = 255

# Title lexemes get label A and body lexemes label B, so ts_rank_cd can weight them
# (search_query.rank_weights). Postgres keeps the column up to date on every write.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')"
)


class Base(DeclarativeBase):
    # Server-side values (timestamps, the search vector) come back through RETURNING,
    # so no attribute is left expired for a lazy load, which async sessions cannot do.
    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"eager_defaults": True}


def _timestamp(*, onupdate: bool = False) -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True),
        server_default=func.now(),
        onupdate=func.now() if onupdate else None,
        nullable=False,
    )


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    created_at: Mapped[datetime] = _timestamp()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    created_at: Mapped[datetime] = _timestamp()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # lazy="raise": an async session cannot lazy-load, so say so loudly if code tries.
    tenant: Mapped[Tenant] = relationship(lazy="raise")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # Serves the tenant's newest-first keyset pagination without a sort.
        Index("ix_documents_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_documents_search_vector", "search_vector", postgresql_using="gin"),
        # A retried create with the same Idempotency-Key finds the original (migration 0003).
        UniqueConstraint(
            "tenant_id", "idempotency_key", name="uq_documents_tenant_idempotency_key"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_MAX_LENGTH))
    created_at: Mapped[datetime] = _timestamp()
    updated_at: Mapped[datetime] = _timestamp(onupdate=True)
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True
    )

    tenant: Mapped[Tenant] = relationship(lazy="raise")


class OutboxEvent(Base):
    """A document event written in the same transaction as the write (outbox.py)."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_events_tenant_id_id", "tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The id of the tenant's event before this one: lets a subscriber see a gap.
    previous_id: Mapped[int | None] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _timestamp()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
