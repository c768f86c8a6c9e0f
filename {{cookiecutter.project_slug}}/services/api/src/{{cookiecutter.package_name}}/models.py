"""Database tables. migrations/versions holds the DDL that creates them; keep both in step."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


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
        CheckConstraint("status IN ('pending', 'ready', 'failed')", name="ck_documents_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_MAX_LENGTH))
    # Only "ready" documents are listed, fetched and searched: a URL ingest's document is
    # "pending" until its saga completes and "failed" once compensated (migration 0004).
    status: Mapped[str] = mapped_column(
        String(16), server_default=DocumentStatus.READY.value, default=DocumentStatus.READY.value
    )
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


class DocumentProjection(Base):
    """The CQRS read model: one tenant's document counts, built from the document events
    (projection.py; migration 0005). Every column is derived: rebuild() can recreate it."""

    __tablename__ = "document_projection"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    documents_created: Mapped[int] = mapped_column(BigInteger)
    documents_updated: Mapped[int] = mapped_column(BigInteger)
    documents_deleted: Mapped[int] = mapped_column(BigInteger)
    # The newest created document's creation time, NULL until one was created.
    last_ingest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    events_applied: Mapped[int] = mapped_column(BigInteger)


class ProjectionAppliedEvent(Base):
    """An event the projection has counted: its deduplication, committed with the counts."""

    __tablename__ = "projection_applied_events"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Indexed for the cascade when a tenant goes; the foreign key also refuses an event of an
    # unknown tenant, which makes such a message fail (and end in the dead-letter table).
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


class DeadLetter(Base):
    """A message a consumer gave up on after its retries (dead_letters.py; migration 0005)."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        # A message is dead-lettered once, even when the ack after the insert is lost and
        # JetStream delivers it again.
        UniqueConstraint("consumer", "stream", "stream_sequence", name="uq_dead_letters_message"),
        Index("ix_dead_letters_pending", "id", postgresql_where=text("replayed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(255))
    stream_sequence: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(Text)
    # No foreign keys: a poison message may name no tenant, or one that does not exist.
    headers: Mapped[dict[str, str]] = mapped_column(JSONB)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    dead_lettered_at: Mapped[datetime] = _timestamp()
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replay_error: Mapped[str | None] = mapped_column(Text)


class DocumentChunk(Base):
    """A piece of a document's text, written by the ingest saga's INDEX step (chunking.py)."""

    __tablename__ = "document_chunks"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)


class IngestSaga(Base):
    """One URL ingest's persisted saga state (ingest_saga.py; migration 0004)."""

    __tablename__ = "ingest_sagas"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'compensating', 'completed', 'compensated')",
            name="ck_ingest_sagas_status",
        ),
        Index(
            "ix_ingest_sagas_unfinished",
            "updated_at",
            postgresql_where=text("status IN ('running', 'compensating')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(16))
    failed_step: Mapped[str | None] = mapped_column(String(16))
    document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL")
    )
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _timestamp()
    updated_at: Mapped[datetime] = _timestamp(onupdate=True)
