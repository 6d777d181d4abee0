"""Example candidates: one per text (case and spacing ignored), not one per request.

Adds ``text_hash`` (sha256 of the normalised text), fills it in, keeps the oldest of any
candidates that share a tenant and text, and makes (tenant, text_hash) unique.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text_hash(text: str) -> str:
    # The same as switchboard.store.examples.text_hash, frozen here with this migration.
    return hashlib.sha256(" ".join(text.split()).casefold().encode()).hexdigest()


def upgrade() -> None:
    op.add_column("example_candidates", sa.Column("text_hash", sa.String(64), nullable=True))
    conn = op.get_bind()
    table = sa.table(
        "example_candidates",
        sa.column("id", sa.BigInteger()),
        sa.column("tenant", sa.String()),
        sa.column("text", sa.Text()),
        sa.column("text_hash", sa.String()),
    )
    seen: set[tuple[str, str]] = set()
    rows = conn.execute(sa.select(table.c.id, table.c.tenant, table.c.text).order_by(table.c.id))
    for row_id, tenant, text in rows.all():
        digest = _text_hash(text)
        if (tenant, digest) in seen:
            conn.execute(sa.delete(table).where(table.c.id == row_id))
        else:
            seen.add((tenant, digest))
            conn.execute(sa.update(table).where(table.c.id == row_id).values(text_hash=digest))
    with op.batch_alter_table("example_candidates") as batch:
        batch.alter_column("text_hash", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint(
            "uq_example_candidates_tenant_text_hash", ["tenant", "text_hash"]
        )


def downgrade() -> None:
    with op.batch_alter_table("example_candidates") as batch:
        batch.drop_constraint("uq_example_candidates_tenant_text_hash", type_="unique")
        batch.drop_column("text_hash")
