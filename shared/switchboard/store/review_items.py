"""What a review item is: its kinds, states and the typed record the store hands out.

Kept apart from the repository (``review.py``) so readers of items (the supervisor's desk,
the console's views, reports) depend on the shape, not on how it is queried.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from switchboard.store.models import ReviewItemRow

MAX_QUESTION_CHARS = 8000


class ItemKind(StrEnum):
    ESCALATION = "escalation"  # no agent answered: a person answers, re-routes or closes
    APPROVAL = "approval"  # a pending action only a reviewer may approve or reject
    SAMPLE = "sample"  # an answered request sampled for quality review


class ItemState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # answered, approved, re-routed, or given a verdict
    CLOSED = "closed"  # closed with a reason, or the action was rejected
    EXPIRED = "expired"  # nobody decided before ``expires_at``

    @property
    def final(self) -> bool:
        return self is not ItemState.OPEN


class ReviewItem(BaseModel):
    """One item as stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    request_id: str
    trace_id: str | None
    agent: str
    kind: ItemKind
    reason: str
    question: str
    customer_id: str
    user_id: str
    draft: dict[str, Any]
    state: ItemState
    claimed_by: str | None
    claimed_at: datetime | None
    claim_until: datetime | None
    resolution: dict[str, Any] | None
    result: dict[str, Any] | None
    resolved_by: str | None
    verdict: str | None
    created_at: datetime
    resolved_at: datetime | None
    expires_at: datetime

    def claimed(self, now: datetime) -> bool:
        """True while someone's claim runs."""
        return self.claim_until is not None and self.claim_until > now

    def overdue(self, now: datetime) -> bool:
        """Open past its expiry (about to be marked expired)."""
        return self.state is ItemState.OPEN and self.expires_at <= now


def item_of(row: ReviewItemRow) -> ReviewItem:
    return ReviewItem(
        id=row.id,
        tenant=row.tenant,
        request_id=row.request_id,
        trace_id=row.trace_id,
        agent=row.agent,
        kind=ItemKind(row.kind),
        reason=row.reason,
        question=row.question,
        customer_id=row.customer_id,
        user_id=row.user_id,
        draft=row.draft or {},
        state=ItemState(row.state),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        claim_until=row.claim_until,
        resolution=row.resolution,
        result=row.result,
        resolved_by=row.resolved_by,
        verdict=row.verdict,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        expires_at=row.expires_at,
    )


class NewItem(BaseModel):
    """What the supervisor knows when it opens an item."""

    tenant: str
    request_id: str
    trace_id: str | None = None
    agent: str = ""
    kind: ItemKind
    reason: str
    question: str
    customer_id: str = ""
    user_id: str = ""
    draft: dict[str, Any]
    expires_at: datetime
