"""Conversation memory: each session's running summary and its answered turns; facts end
users stated about themselves (long-term memory).

Revision ID: 0007
Revises: v0006_review
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "v0006_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("summarized", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint("tenant", "session_id", name="uq_conversations_tenant_session_id"),
    )
    op.create_index("ix_conversations_tenant_user_id", "conversations", ["tenant", "user_id"])
    op.create_index("ix_conversations_expires_at", "conversations", ["expires_at"])

    op.create_table(
        "conversation_turns",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("user_text", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("sources", _JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("pending_action", _JSON, nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_turns"),
        sa.UniqueConstraint(
            "tenant", "session_id", "seq", name="uq_conversation_turns_tenant_session_id_seq"
        ),
    )
    op.create_index(
        "ix_conversation_turns_tenant_user_id", "conversation_turns", ["tenant", "user_id"]
    )
    op.create_index("ix_conversation_turns_expires_at", "conversation_turns", ["expires_at"])

    op.create_table(
        "user_memories",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("fact", sa.Text(), nullable=False),
        sa.Column("fact_hash", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("source_session", sa.String(128), nullable=False),
        sa.Column("source_request", sa.String(128), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_user_memories"),
        sa.UniqueConstraint(
            "tenant", "user_id", "fact_hash", name="uq_user_memories_tenant_user_id_fact_hash"
        ),
    )
    op.create_index("ix_user_memories_expires_at", "user_memories", ["expires_at"])


def downgrade() -> None:
    op.drop_table("user_memories")
    op.drop_table("conversation_turns")
    op.drop_table("conversations")
