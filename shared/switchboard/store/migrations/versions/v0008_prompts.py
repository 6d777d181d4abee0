"""The prompt registry: immutable prompt versions, labels, and the audit of label moves.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_prompt_versions"),
        sa.UniqueConstraint("agent", "number", name="uq_prompt_versions_agent_number"),
        sa.UniqueConstraint("agent", "content_hash", name="uq_prompt_versions_agent_content_hash"),
    )
    op.create_table(
        "prompt_labels",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("canary_version", sa.Integer(), nullable=True),
        sa.Column("canary_percent", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_prompt_labels"),
        sa.UniqueConstraint("agent", "label", name="uq_prompt_labels_agent_label"),
    )
    op.create_table(
        "prompt_label_moves",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("canary_version", sa.Integer(), nullable=True),
        sa.Column("canary_percent", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_prompt_label_moves"),
    )
    op.create_index(
        "ix_prompt_label_moves_agent_label_created_at",
        "prompt_label_moves",
        ["agent", "label", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_prompt_label_moves_agent_label_created_at", "prompt_label_moves")
    op.drop_table("prompt_label_moves")
    op.drop_table("prompt_labels")
    op.drop_table("prompt_versions")
