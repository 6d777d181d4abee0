"""Tables of the prompt registry (docs/prompts.md): versions, labels, and label moves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.store.orm import Base, BigId, Json, UTCDateTime


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
