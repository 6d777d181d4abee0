"""Tables of the durable store. Alembic migrations under ``migrations/`` create them; the
prompt registry's and memory's tables live in ``prompt_rows.py`` and ``memory_rows.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.store.memory_rows import (
    ConversationRow,
    ConversationTurnRow,
    UserMemoryRow,
    WorkingMemoryRow,
)
from switchboard.store.orm import NAMING, Base, BigId, Json, UTCDateTime
from switchboard.store.prompt_rows import PromptLabelMoveRow, PromptLabelRow, PromptVersionRow

__all__ = [
    "NAMING",
    "AuditEventRow",
    "Base",
    "BigId",
    "ConversationRow",
    "ConversationTurnRow",
    "ExampleCandidateRow",
    "FeedbackRow",
    "Json",
    "KnowledgeGapRow",
    "PromptLabelMoveRow",
    "PromptLabelRow",
    "PromptVersionRow",
    "RequestResultRow",
    "ReviewItemRow",
    "SessionStateRow",
    "ToolEffectRow",
    "UTCDateTime",
    "UserMemoryRow",
    "WorkingMemoryRow",
]


class AuditEventRow(Base):
    """One thing that happened to a request: a routing decision, an agent call, a refusal..."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(128))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    tenant: Mapped[str | None] = mapped_column(String(128))
    agent: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)

    __table_args__ = (
        Index("ix_audit_events_request_id", "request_id"),
        Index("ix_audit_events_time", "time"),
        Index("ix_audit_events_tenant_time", "tenant", "time"),
        Index("ix_audit_events_kind_time", "kind", "time"),
    )


class RequestResultRow(Base):
    """The claim on, and then the stored response to, one (tenant, request_id)."""

    __tablename__ = "request_results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(64))
    response: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "request_id", name="uq_request_results_tenant_request_id"),
        Index("ix_request_results_expires_at", "expires_at"),
    )


class ToolEffectRow(Base):
    """A tool side effect, done at most once per (tenant, request_id, step)."""

    __tablename__ = "tool_effects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    step: Mapped[str] = mapped_column(String(128))
    tool: Mapped[str] = mapped_column(String(128))
    args_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64))
    result: Mapped[Any | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who approved the effect when a reviewer had to (None: the caller confirmed it).
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approval_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint(
            "tenant", "request_id", "step", name="uq_tool_effects_tenant_request_id_step"
        ),
        Index("ix_tool_effects_created_at", "created_at"),
    )


class SessionStateRow(Base):
    """Where a conversation is: the agent of its last answered turn and that turn's embedding.

    Shared by every supervisor replica, so a follow-up routes the same wherever it lands.
    Expires after the session TTL (``SWITCHBOARD_SESSION_TTL_S``); ``db purge`` removes it.
    """

    __tablename__ = "session_state"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(128))
    agent: Mapped[str] = mapped_column(String(128))
    last_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    turns: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "session_id", name="uq_session_state_tenant_session_id"),
        Index("ix_session_state_expires_at", "expires_at"),
    )


class ExampleCandidateRow(Base):
    """A request that may become a routing example, once a person accepts it.

    Holds the request text (the only table that does): recorded when Claude chose the agent,
    or when the request was escalated or needed clarification so a person can resolve it.
    """

    __tablename__ = "example_candidates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))  # of the normalised text: one row each
    agent: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "request_id", name="uq_example_candidates_tenant_request_id"),
        UniqueConstraint("tenant", "text_hash", name="uq_example_candidates_tenant_text_hash"),
        Index("ix_example_candidates_status_created_at", "status", "created_at"),
    )


class ReviewItemRow(Base):
    """A request a person must look at: an escalation, an action awaiting approval, or a
    sampled answer for quality review. One per (tenant, request_id); survives restarts.

    ``claimed_by``/``claim_until`` are a lease: while it runs, only its holder may resolve
    the item. ``draft`` is the answer the caller got (AskResult JSON); ``result`` the one a
    person's resolution gives it (served by ``GetResult``).
    """

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    agent: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    draft: Mapped[dict[str, Any]] = mapped_column(Json)
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[dict[str, Any] | None] = mapped_column(Json)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    verdict: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "request_id", name="uq_review_items_tenant_request_id"),
        Index("ix_review_items_state_created_at", "state", "created_at"),
        Index("ix_review_items_tenant_state_created_at", "tenant", "state", "created_at"),
        Index("ix_review_items_expires_at", "expires_at"),
    )


class FeedbackRow(Base):
    """A caller's rating of one answer (thumbs or a 1-5 score), joined to how it was made."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    thumb: Mapped[int | None] = mapped_column(Integer)  # +1 up, -1 down
    score: Mapped[int | None] = mapped_column(Integer)  # 1-5
    positive: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text)
    agent: Mapped[str] = mapped_column(String(128))
    route_method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    # The prompt version that produced the answer, once the prompt registry records it.
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    given_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "request_id", name="uq_feedback_tenant_request_id"),
        Index("ix_feedback_created_at", "created_at"),
    )


class KnowledgeGapRow(Base):
    """A question people had to answer because an agent's knowledge lacked it."""

    __tablename__ = "knowledge_gaps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    agent: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 embedding
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "request_id", name="uq_knowledge_gaps_tenant_request_id"),
        Index("ix_knowledge_gaps_agent_created_at", "agent", "created_at"),
    )
