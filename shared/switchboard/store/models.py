"""Tables of the durable store. Alembic migrations under ``migrations/`` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend stores.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text, which sorts and compares
    correctly because every value is written in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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


class PromptVersionRow(Base):
    """One immutable prompt version of an agent (docs/prompts.md): never updated, never deleted.

    ``number`` counts per agent from 1; ``content_hash`` covers everything that shapes the
    model's behaviour (prompt text, rules, model and parameters), so creating the same
    content again returns the existing version.
    """

    __tablename__ = "prompt_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(128))
    number: Mapped[int] = mapped_column(Integer)
    system_prompt: Mapped[str] = mapped_column(Text)
    rules: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    content_hash: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("agent", "number", name="uq_prompt_versions_agent_number"),
        UniqueConstraint("agent", "content_hash", name="uq_prompt_versions_agent_content_hash"),
    )


class PromptLabelRow(Base):
    """Where one label of an agent points: a version, and optionally a canary share.

    ``revision`` grows by one on every move; a move names the revision it read
    (compare-and-set), so of two concurrent moves exactly one wins.
    """

    __tablename__ = "prompt_labels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    canary_version: Mapped[int | None] = mapped_column(Integer)
    canary_percent: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("agent", "label", name="uq_prompt_labels_agent_label"),)


class PromptLabelMoveRow(Base):
    """The audit of label moves: who moved which label, when, from where to where, and why."""

    __tablename__ = "prompt_label_moves"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # set, canary, promote, force, rollback
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    canary_version: Mapped[int | None] = mapped_column(Integer)
    canary_percent: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_prompt_label_moves_agent_label_created_at", "agent", "label", "created_at"),
    )


class ConversationRow(Base):
    """A conversation's running state: its turn count and the summary of turns that left the
    verbatim window. One per (tenant, session_id); expires when the session is idle for
    ``SWITCHBOARD_MEMORY_SESSION_TTL_S`` (docs/memory.md)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    turns: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    summarized: Mapped[int] = mapped_column(Integer)  # turns folded into the summary
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "session_id", name="uq_conversations_tenant_session_id"),
        Index("ix_conversations_tenant_user_id", "tenant", "user_id"),
        Index("ix_conversations_expires_at", "expires_at"),
    )


class ConversationTurnRow(Base):
    """One answered turn of a conversation: the user's text and the answer (personal data:
    erased by ``switchboard memory forget``, purged with its conversation)."""

    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(128))
    user_text: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    agent: Mapped[str] = mapped_column(String(128))
    sources: Mapped[list[str]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(32))
    pending_action: Mapped[dict[str, Any] | None] = mapped_column(Json)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint(
            "tenant", "session_id", "seq", name="uq_conversation_turns_tenant_session_id_seq"
        ),
        Index("ix_conversation_turns_tenant_user_id", "tenant", "user_id"),
        Index("ix_conversation_turns_expires_at", "expires_at"),
    )


class UserMemoryRow(Base):
    """A fact an end user stated about themselves, kept across their sessions for a while
    (long-term memory): per tenant and user, with its embedding and the turn it came from."""

    __tablename__ = "user_memories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    fact: Mapped[str] = mapped_column(Text)
    fact_hash: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 embedding
    source_session: Mapped[str] = mapped_column(String(128))
    source_request: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint(
            "tenant", "user_id", "fact_hash", name="uq_user_memories_tenant_user_id_fact_hash"
        ),
        Index("ix_user_memories_expires_at", "expires_at"),
    )
