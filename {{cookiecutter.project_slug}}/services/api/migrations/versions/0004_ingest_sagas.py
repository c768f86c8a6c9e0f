"""URL ingest as a saga: one row per ingest, a document status, and the document's chunks.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only "ready" documents are listed, fetched and searched; an ingest's document is
    # "pending" until its saga completes and "failed" once compensated. Existing rows and
    # plain POSTs are ready (the server default).
    op.add_column(
        "documents",
        sa.Column("status", sa.String(16), server_default="ready", nullable=False),
    )
    op.create_check_constraint(
        "ck_documents_status", "documents", "status IN ('pending', 'ready', 'failed')"
    )
    op.create_table(
        "document_chunks",
        sa.Column(
            "document_id",
            sa.Uuid(),
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_table(
        "ingest_sagas",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        # The step running (status running) or being undone (status compensating).
        sa.Column("step", sa.String(16), nullable=False),
        # The step that failed (status compensating or compensated), with its error.
        sa.Column("failed_step", sa.String(16), nullable=True),
        sa.Column(
            "document_id",
            sa.Uuid(),
            sa.ForeignKey("documents.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('running', 'compensating', 'completed', 'compensated')",
            name="ck_ingest_sagas_status",
        ),
    )
    # Partial: the recovery sweep only looks for unfinished sagas, which stay few.
    op.create_index(
        "ix_ingest_sagas_unfinished",
        "ingest_sagas",
        ["updated_at"],
        postgresql_where=sa.text("status IN ('running', 'compensating')"),
    )


def downgrade() -> None:
    op.drop_index("ix_ingest_sagas_unfinished", table_name="ingest_sagas")
    op.drop_table("ingest_sagas")
    op.drop_table("document_chunks")
    op.drop_constraint("ck_documents_status", "documents", type_="check")
    op.drop_column("documents", "status")
