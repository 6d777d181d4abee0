"""Tables of conversation memory (docs/memory.md): conversations, their turns, what users
said about themselves, and the agents' tool-loop scratch-pads (working memory). Personal
data: erased by ``switchboard memory forget``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.store.orm import Base, BigId, Json, UTCDateTime


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


class WorkingMemoryRow(Base):
    """The scratch-pad of one request's tool loop (``working_types.ScratchPad``), so a
    confirmation resumes it on any replica. One per (tenant, request_id); found by the
    action id it awaits. Holds the user's text: erased with the session or user, expires
    with the action (at most ``SWITCHBOARD_WORKING_MEMORY_TTL_S``)."""

    __tablename__ = "working_memory"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    agent: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(128))
    action_id: Mapped[str | None] = mapped_column(String(64))  # the action it awaits
    state: Mapped[str] = mapped_column(String(32))
    pad: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant", "request_id", name="uq_working_memory_tenant_request_id"),
        Index("ix_working_memory_tenant_action_id", "tenant", "action_id"),
        Index("ix_working_memory_tenant_session_id", "tenant", "session_id"),
        Index("ix_working_memory_tenant_user_id", "tenant", "user_id"),
        Index("ix_working_memory_expires_at", "expires_at"),
    )
