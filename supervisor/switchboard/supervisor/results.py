"""What the supervisor takes in and gives back, as domain types (no gRPC here).

An :class:`AskResult` is plain data: the servicer turns it into an ``AskResponse``, and the
request ledger stores it (as JSON) so a repeated request id gets exactly the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

from switchboard.core.conversation import ConversationState
from switchboard.core.types import (
    AnswerMode,
    AnswerPart,
    Citation,
    Outcome,
    PendingAction,
    UsageReport,
)
from switchboard.supervisor.routing.router import RouteResult


@dataclass(frozen=True)
class AskInput:
    """One request, as the caller sent it (who asks is in the request context)."""

    text: str
    metadata: dict[str, str] = field(default_factory=dict)
    agent: str = ""  # skip routing: ask this agent
    confirm_action: str = ""  # the id of a pending action the user confirmed
    idempotent: bool = False  # the caller chose the request id: a repeat gets this result


class CandidateScore(BaseModel):
    agent: str
    score: float


class PartRoute(BaseModel):
    text: str
    agent: str
    confidence: float


class RouteSummary(BaseModel):
    """The routing decision as the caller sees it (no vectors, no model internals)."""

    agent: str = ""
    confidence: float = 0.0
    method: str = ""
    candidates: list[CandidateScore] = Field(default_factory=list)
    reason: str = ""
    blocked: bool = False
    block_reason: str = ""
    parts: list[PartRoute] = Field(default_factory=list)

    @classmethod
    def of(cls, decision: RouteResult) -> RouteSummary:
        return cls(
            agent=decision.agent or "",
            confidence=decision.confidence,
            method=decision.method,
            candidates=[CandidateScore(agent=c.agent, score=c.score) for c in decision.candidates],
            reason=decision.reason,
            blocked=decision.blocked,
            block_reason=decision.block_reason,
            parts=[
                PartRoute(text=p.text, agent=p.agent, confidence=p.confidence)
                for p in decision.parts
            ],
        )


class AnsweredBy(BaseModel):
    """Who produced an answer: ``agent`` (its name) or ``human`` (``tenant/name``)."""

    kind: str = ""
    name: str = ""


class ReviewInfo(BaseModel):
    """A request's review item, as its caller sees it (``AskResponse.review``)."""

    item_id: str
    kind: str  # escalation, approval, sample
    state: str  # open, resolved, closed, expired
    reason: str = ""
    decided_by: str = ""
    note: str = ""
    expires_at: datetime | None = None


class AskResult(BaseModel):
    """The answer to one request, however it ended."""

    request_id: str
    outcome: Outcome
    answer: str
    agent: str = ""
    confidence: float = 0.0
    route: RouteSummary = Field(default_factory=RouteSummary)
    citations: list[Citation] = Field(default_factory=list)
    usage: UsageReport = Field(default_factory=UsageReport)
    mode: AnswerMode = AnswerMode.NONE
    pending_action: PendingAction | None = None
    parts: list[AnswerPart] = Field(default_factory=list)  # compound requests: one per part
    uncited: bool = False
    trace_id: str = ""
    answered_by: AnsweredBy | None = None  # None: derived (the agent, when one answered)
    review: ReviewInfo | None = None  # set when a person looks at (or looked at) the request
    prompt_version: str = ""  # the answering agent's prompt version (docs/prompts.md)
    conversation: ConversationState | None = None  # what became of the session (memory)
    # An outage's escalation is not the request's final outcome: it is not kept for replay.
    final: bool = Field(True, exclude=True)
    # Strict grounding: the model's uncited text the agent escalated instead of sending. Only
    # the review item's draft holds it; never the caller's answer, nor the stored result.
    withheld_draft: str = Field("", exclude=True)
