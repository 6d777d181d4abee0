"""Domain types shared by the supervisor and the agents (no gRPC in sight)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from switchboard.core.conversation import ConversationWindow, HandoffBrief
from switchboard.core.llm import TokenUsage


class Outcome(StrEnum):
    """How a request ended (mirrors ``switchboard.v1.Status``)."""

    ANSWERED = "ANSWERED"
    NEEDS_CLARIFICATION = "NEEDS_CLARIFICATION"
    ESCALATED = "ESCALATED"
    DEGRADED = "DEGRADED"
    REFUSED = "REFUSED"
    NEEDS_CONFIRMATION = "NEEDS_CONFIRMATION"
    CLOSED = "CLOSED"  # a person closed it, rejected its action, or its review expired


class AnswerMode(StrEnum):
    LLM = "llm"
    OFFLINE = "offline-extractive"
    HUMAN = "human"  # a reviewer wrote the answer
    NONE = ""


class AgentCard(BaseModel):
    name: str
    description: str
    examples: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(
        default_factory=list,
        description="Optional rule: a request naming one of these (whole words) goes here.",
    )


class Citation(BaseModel):
    source_id: str
    title: str
    snippet: str
    score: float


class AgentUsage(BaseModel):
    """One agent's (or the supervisor's) tokens and estimated cost."""

    agent: str
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def from_tokens(cls, agent: str, model: str, usage: TokenUsage, cost: float) -> AgentUsage:
        return cls(
            agent=agent,
            model=model,
            input_tokens=usage.total_input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=cost,
        )


class UsageReport(BaseModel):
    """Usage of a whole request: the per-agent breakdown and its sums."""

    breakdown: list[AgentUsage] = Field(default_factory=list)

    @property
    def input_tokens(self) -> int:
        return sum(u.input_tokens for u in self.breakdown)

    @property
    def output_tokens(self) -> int:
        return sum(u.output_tokens for u in self.breakdown)

    @property
    def cost_usd(self) -> float:
        return sum(u.cost_usd for u in self.breakdown)

    def merged(self, other: UsageReport) -> UsageReport:
        return UsageReport(breakdown=[*self.breakdown, *other.breakdown])


class Approver(StrEnum):
    """Who must approve a pending action (per tool, in the agent's ``approvals``)."""

    CALLER = "caller"  # the caller confirms with ``confirm_action``
    REVIEWER = "reviewer"  # a person approves it in the Review service


class PendingAction(BaseModel):
    """A change an agent proposes; it runs only when the caller (or, for
    ``approval=reviewer``, a reviewer) confirms ``id``."""

    id: str
    tool: str
    summary: str
    arguments_json: str = "{}"
    approval: Approver = Approver.CALLER


class Approval(BaseModel):
    """A reviewer's approval of a pending action, passed by the supervisor to the agent."""

    approved_by: str
    reason: str


class Screening(StrEnum):
    """The supervisor's injection-screening verdict on a request it passes to an agent."""

    UNSCREENED = ""
    CLEAN = "clean"
    SUSPICIOUS = "suspicious"  # borderline: the agent answers under its guard prompt


class AgentRequest(BaseModel):
    """What the supervisor hands an agent, besides the request context (who, budget, time)."""

    text: str
    metadata: dict[str, str] = Field(default_factory=dict)  # the caller's, passed through
    query_embedding: list[float] | None = None
    confirm_action: str = ""
    screening: Screening = Screening.UNSCREENED
    approval: Approval | None = None  # set by the supervisor's Review service only
    conversation: ConversationWindow | None = None  # earlier turns of the session (memory)
    handoff: HandoffBrief | None = None  # set when the session moved to this agent
    memories: list[str] = Field(default_factory=list)  # the end user's recalled facts


class AgentAnswer(BaseModel):
    """An agent's answer, as the supervisor receives it."""

    agent: str
    text: str
    outcome: Outcome
    mode: AnswerMode
    confidence: float
    citations: list[Citation] = Field(default_factory=list)
    usage: UsageReport = Field(default_factory=UsageReport)
    pending_action: PendingAction | None = None
    uncited: bool = False  # the answer cites no passage: it is not grounded in the knowledge
    prompt_version: str = ""  # the prompt version that answered (billing@v2), docs/prompts.md
    # Strict grounding escalated the model's uncited text: here it is, for the reviewer only.
    withheld_draft: str = ""


class AnswerPart(BaseModel):
    """One agent's answer to one part of a compound request (see ``supervisor/compound.py``)."""

    text: str  # the part of the request
    agent: str
    answer: str
    outcome: Outcome
    mode: AnswerMode = AnswerMode.NONE
    confidence: float = 0.0
    citations: list[Citation] = Field(default_factory=list)  # the sources of ``answer``
    uncited: bool = False
    prompt_version: str = ""
