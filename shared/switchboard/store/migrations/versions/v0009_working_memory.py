"""Working memory: the scratch-pad of an agent's tool loop, per request, so a confirmation
resumes the loop on any replica.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "working_memory",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("pad", _JSON, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_working_memory"),
        sa.UniqueConstraint("tenant", "request_id", name="uq_working_memory_tenant_request_id"),
    )
    op.create_index("ix_working_memory_tenant_action_id", "working_memory", ["tenant", "action_id"])
    op.create_index(
        "ix_working_memory_tenant_session_id", "working_memory", ["tenant", "session_id"]
    )
    op.create_index("ix_working_memory_tenant_user_id", "working_memory", ["tenant", "user_id"])
    op.create_index("ix_working_memory_expires_at", "working_memory", ["expires_at"])


def downgrade() -> None:
    op.drop_table("working_memory")
