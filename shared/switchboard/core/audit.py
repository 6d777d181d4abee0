"""Audit events: what happened to a request, for whom and how it ended; and where they go.

Domain code records events through an :class:`AuditSink` (the store's ``AuditWriter`` in a
service, a recorder in tests); the store persists them. The event type lives here, below the
store, so every layer can describe what happened without importing the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AuditKind(StrEnum):
    ROUTE_DECISION = "route_decision"
    AGENT_CALL = "agent_call"
    TOOL_CALL = "tool_call"
    ESCALATION = "escalation"
    REFUSAL = "refusal"
    AUTH_FAILURE = "auth_failure"
    CLARIFICATION = "clarification"
    LIMIT_EXCEEDED = "limit_exceeded"
    REPLAY = "replay"
    ERROR = "error"
    REVIEW = "review"  # a review item opened, claimed, resolved, refused... (with who)
    FEEDBACK = "feedback"  # a caller's rating of an answer, or a refused one
    MEMORY = "memory"  # conversation memory listed or erased (with who and how much)


class AuditEvent(BaseModel):
    """An event to record. ``time`` defaults to now; ``trace_id`` to the active span's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AuditKind
    request_id: str | None = Field(None, max_length=128)
    trace_id: str | None = Field(None, max_length=32)
    tenant: str | None = Field(None, max_length=128)
    agent: str | None = Field(None, max_length=128)
    outcome: str | None = Field(None, max_length=64)
    detail: dict[str, JsonValue] = Field(default_factory=dict)
    time: datetime = Field(default_factory=utcnow)

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class AuditSink(Protocol):
    """Takes audit events without blocking the request (``store.AuditWriter``)."""

    def submit(self, event: AuditEvent) -> bool: ...


def audit_accepting(sink: AuditSink) -> bool:
    """Whether ``sink`` can keep another event now. Sinks that may run out of room (the store's
    writer during a database outage, once its local spool is full) say so with
    ``accepting()``; actions that must be audited are refused while it is False."""
    accepting = getattr(sink, "accepting", None)
    return bool(accepting()) if callable(accepting) else True


class NoAudit:
    """Drops every event (a service built without a store, or a unit test)."""

    def submit(self, event: AuditEvent) -> bool:
        return False


def event(
    kind: AuditKind,
    *,
    request_id: str = "",
    tenant: str = "",
    agent: str = "",
    outcome: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """An event with empty strings stored as NULLs and the request id clipped to its column."""
    return AuditEvent(
        kind=kind,
        request_id=request_id[:128] or None,
        tenant=tenant or None,
        agent=agent or None,
        outcome=(outcome or "")[:64] or None,
        detail=detail or {},
    )
