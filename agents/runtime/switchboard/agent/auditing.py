"""The agent's audit events for content its screening kept out of a prompt."""

from __future__ import annotations

from typing import Any

from switchboard.core.audit import AuditEvent, AuditKind, event


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
    return event(
        AuditKind.REFUSAL,
        request_id=request_id,
        tenant=tenant,
        agent=agent,
        outcome="screened",
        detail={"source": source, "reason": reason, "score": round(score, 4), **detail},
    )
