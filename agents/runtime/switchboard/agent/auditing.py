"""Where the agent's audit events go: the store's ``AuditWriter``, or nowhere in tests."""

from __future__ import annotations

from typing import Any, Protocol

from switchboard.store import AuditEvent, AuditKind


class AuditSink(Protocol):
    """Takes audit events without blocking (``switchboard.store.AuditWriter``)."""

    def submit(self, event: AuditEvent) -> bool: ...


class NoAudit:
    def submit(self, event: AuditEvent) -> bool:
        return False


def screened_event(
    *,
    agent: str,
    request_id: str,
    tenant: str,
    source: str,
    reason: str,
    score: float,
    **detail: Any,
) -> AuditEvent:
    """A REFUSAL event for content the guard kept out of the prompt (``source``: where from)."""
    return AuditEvent(
        kind=AuditKind.REFUSAL,
        request_id=request_id[:128] or None,
        tenant=tenant or None,
        agent=agent,
        outcome="screened",
        detail={"source": source, "reason": reason, "score": round(score, 4), **detail},
    )
