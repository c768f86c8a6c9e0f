"""The event consumer's tables: the document projection, its dedup ids, the dead letters.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The read model: per-tenant counts derived from the document events (projection.py).
    op.create_table(
        "document_projection",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("documents_created", sa.BigInteger(), nullable=False),
        sa.Column("documents_updated", sa.BigInteger(), nullable=False),
        sa.Column("documents_deleted", sa.BigInteger(), nullable=False),
        sa.Column("last_ingest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("events_applied", sa.BigInteger(), nullable=False),
    )
    # The events already counted: deduplication that commits with the counts it guards.
    op.create_table(
        "projection_applied_events",
        sa.Column("event_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_projection_applied_events_tenant_id", "projection_applied_events", ["tenant_id"]
    )
    # Messages the consumers gave up on (dead_letters.py): no foreign keys, a poison
    # message may name no tenant or an unknown one.
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "dead_lettered_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replay_error", sa.Text(), nullable=True),
        sa.UniqueConstraint(
            "consumer", "stream", "stream_sequence", name="uq_dead_letters_message"
        ),
    )
    # Partial: `list` and `replay` look for the letters not yet replayed, which stay few.
    op.create_index(
        "ix_dead_letters_pending",
        "dead_letters",
        ["id"],
        postgresql_where=sa.text("replayed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_dead_letters_pending", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_projection_applied_events_tenant_id", table_name="projection_applied_events")
    op.drop_table("projection_applied_events")
    op.drop_table("document_projection")
