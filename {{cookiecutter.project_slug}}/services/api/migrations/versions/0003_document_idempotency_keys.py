"""Idempotency keys on document creation: a retried POST returns the original document.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: requests without the header store NULL, and NULLs never collide.
    op.add_column("documents", sa.Column("idempotency_key", sa.String(255), nullable=True))
    # Per tenant: two tenants may pick the same key without seeing each other.
    op.create_unique_constraint(
        "uq_documents_tenant_idempotency_key", "documents", ["tenant_id", "idempotency_key"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_documents_tenant_idempotency_key", "documents", type_="unique")
    op.drop_column("documents", "idempotency_key")
