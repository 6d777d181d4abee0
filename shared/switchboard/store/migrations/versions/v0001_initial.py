"""Audit events, idempotent request results and once-only tool effects.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        _time("time"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("agent", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("detail", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_request_id", "audit_events", ["request_id"])
    op.create_index("ix_audit_events_time", "audit_events", ["time"])
    op.create_index("ix_audit_events_tenant_time", "audit_events", ["tenant", "time"])
    op.create_index("ix_audit_events_kind_time", "audit_events", ["kind", "time"])

    op.create_table(
        "request_results",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("status", sa.String(64), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        _time("created_at"),
        _time("lease_until"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_request_results"),
        sa.UniqueConstraint("tenant", "request_id", name="uq_request_results_tenant_request_id"),
    )
    op.create_index("ix_request_results_expires_at", "request_results", ["expires_at"])

    op.create_table(
        "tool_effects",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("step", sa.String(128), nullable=False),
        sa.Column("tool", sa.String(128), nullable=False),
        sa.Column("args_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("result", _JSON, nullable=True),
        _time("created_at"),
        _time("lease_until"),
        _time("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tool_effects"),
        sa.UniqueConstraint(
            "tenant", "request_id", "step", name="uq_tool_effects_tenant_request_id_step"
        ),
    )
    op.create_index("ix_tool_effects_created_at", "tool_effects", ["created_at"])


def downgrade() -> None:
    op.drop_table("tool_effects")
    op.drop_table("request_results")
    op.drop_table("audit_events")
