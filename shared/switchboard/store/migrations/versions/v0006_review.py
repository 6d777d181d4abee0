"""The human loop: review items, feedback, knowledge gaps, and who approved a tool effect.

Revision ID: v0006_review
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "v0006_review"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("tool_effects") as batch:
        batch.add_column(sa.Column("approved_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("approval_reason", sa.Text(), nullable=True))

    op.create_table(
        "review_items",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("draft", _JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        _time("claimed_at", nullable=True),
        _time("claim_until", nullable=True),
        sa.Column("resolution", _JSON, nullable=True),
        sa.Column("result", _JSON, nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        _time("created_at"),
        _time("resolved_at", nullable=True),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.UniqueConstraint("tenant", "request_id", name="uq_review_items_tenant_request_id"),
    )
    op.create_index("ix_review_items_state_created_at", "review_items", ["state", "created_at"])
    op.create_index(
        "ix_review_items_tenant_state_created_at",
        "review_items",
        ["tenant", "state", "created_at"],
    )
    op.create_index("ix_review_items_expires_at", "review_items", ["expires_at"])

    op.create_table(
        "feedback",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("thumb", sa.Integer(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("route_method", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("prompt_version", sa.String(64), nullable=True),
        sa.Column("given_by", sa.String(128), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("tenant", "request_id", name="uq_feedback_tenant_request_id"),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])

    op.create_table(
        "knowledge_gaps",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_gaps"),
        sa.UniqueConstraint("tenant", "request_id", name="uq_knowledge_gaps_tenant_request_id"),
    )
    op.create_index("ix_knowledge_gaps_agent_created_at", "knowledge_gaps", ["agent", "created_at"])


def downgrade() -> None:
    op.drop_table("knowledge_gaps")
    op.drop_table("feedback")
    op.drop_table("review_items")
    with op.batch_alter_table("tool_effects") as batch:
        batch.drop_column("approval_reason")
        batch.drop_column("approved_by")
