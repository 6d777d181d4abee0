"""Session state for follow-up routing, and example candidates awaiting review.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "session_state",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("last_vector", sa.LargeBinary(), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        _time("updated_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_session_state"),
        sa.UniqueConstraint("tenant", "session_id", name="uq_session_state_tenant_session_id"),
    )
    op.create_index("ix_session_state_expires_at", "session_state", ["expires_at"])

    op.create_table(
        "example_candidates",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("agent", sa.String(128), nullable=True),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_example_candidates"),
        sa.UniqueConstraint("tenant", "request_id", name="uq_example_candidates_tenant_request_id"),
    )
    op.create_index(
        "ix_example_candidates_status_created_at", "example_candidates", ["status", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("example_candidates")
    op.drop_table("session_state")
