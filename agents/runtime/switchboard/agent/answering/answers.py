"""How an agent's answers are put together: citations, confidence, usage, and the four shapes
an answer takes (escalated, written by the LLM, a proposed action, quoted offline)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from switchboard.agent.answering.prompting import cited_indexes, renumber_markers
from switchboard.agent.knowledge.store import Hit
from switchboard.core.llm import Completion, TokenUsage
from switchboard.core.types import (
    AgentAnswer,
    AgentUsage,
    AnswerMode,
    Citation,
    Outcome,
    PendingAction,
    UsageReport,
)

ESCALATION_MESSAGE = (
    "I couldn't find a reliable answer to this in our {domain} documentation, so I've passed "
    "your request to a person on the team, who will follow up."
)
SNIPPET_CHARS = 300
#: An answer that cites no passage is not grounded in the knowledge base: its confidence is
#: at most this.
UNCITED_CONFIDENCE = 0.2


def confidence(score: float, floor: float) -> float:
    """Maps the best passage's cosine to [0, 1]: ``floor`` -> 0.1, 0.75 and above -> 0.95."""
    span = max(0.75 - floor, 1e-6)
    return float(np.clip(0.1 + 0.85 * (score - floor) / span, 0.05, 0.95))


def top_score(hits: list[Hit]) -> float:
    return max((h.score for h in hits), default=0.0)


def citation(hit: Hit) -> Citation:
    snippet = hit.text if len(hit.text) <= SNIPPET_CHARS else hit.text[:SNIPPET_CHARS] + "…"
    return Citation(
        source_id=str(hit.metadata.get("source", hit.id)),
        title=str(hit.metadata.get("title", "")),
        snippet=snippet,
        score=round(hit.score, 4),
    )


@dataclass
class Tally:
    """LLM usage summed over every turn of one request, and whether the breaker heard back."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    verdict: bool = False  # the breaker recorded a success or failure for this request
    tools: list[str] = field(default_factory=list)
    tool_outputs: list[str] = field(default_factory=list)  # what the answer may draw on too

    def add(self, completion: Completion, model: str, cost: float) -> None:
        u = completion.usage
        self.model = model
        self.input_tokens += u.input_tokens
        self.output_tokens += u.output_tokens
        self.cache_read += u.cache_read_input_tokens
        self.cache_creation += u.cache_creation_input_tokens
        self.cost_usd += cost
        self.calls += 1

    def report(self, agent: str) -> UsageReport:
        if not self.calls:
            return UsageReport(breakdown=[AgentUsage(agent=agent)])
        tokens = TokenUsage(
            self.input_tokens, self.output_tokens, self.cache_read, self.cache_creation
        )
        return UsageReport(
            breakdown=[AgentUsage.from_tokens(agent, self.model, tokens, self.cost_usd)]
        )


def escalated(agent: str, hits: list[Hit], floor: float) -> AgentAnswer:
    """Nothing relevant was retrieved: a person follows up."""
    return AgentAnswer(
        agent=agent,
        text=ESCALATION_MESSAGE.format(domain=agent),
        outcome=Outcome.ESCALATED,
        mode=AnswerMode.NONE,
        confidence=confidence(top_score(hits), floor) if hits else 0.0,
        usage=UsageReport(breakdown=[AgentUsage(agent=agent)]),
    )


def written(
    agent: str,
    text: str,
    passages: list[Hit],
    floor: float,
    tally: Tally,
    *,
    escalate_uncited: bool,
    used_tools: bool = False,
) -> AgentAnswer:
    """The LLM's answer, citing exactly the passages its ``[n]`` markers name.

    An answer with no marker cites nothing (never an invented citation): it is marked
    ``uncited`` and its confidence capped, so evaluations count it as ungrounded. With
    ``escalate_uncited`` (strict grounding) one that was given no tool result either
    (``used_tools``) goes to a person instead, as when retrieval finds nothing; the text it
    wrote goes with it as ``withheld_draft``, for the reviewer.
    """
    cited = cited_indexes(text, len(passages))
    used = [passages[i - 1] for i in cited]
    if not used:
        capped = min(UNCITED_CONFIDENCE, confidence(top_score(passages), floor))
        if escalate_uncited and not used_tools:
            return AgentAnswer(
                agent=agent,
                text=ESCALATION_MESSAGE.format(domain=agent),
                outcome=Outcome.ESCALATED,
                mode=AnswerMode.LLM,
                confidence=capped,
                usage=tally.report(agent),
                uncited=True,
                withheld_draft=text.strip(),
            )
        return AgentAnswer(
            agent=agent,
            text=text.strip(),
            outcome=Outcome.ANSWERED,
            mode=AnswerMode.LLM,
            confidence=capped,
            usage=tally.report(agent),
            uncited=True,
        )
    return AgentAnswer(
        agent=agent,
        text=renumber_markers(text, cited).strip(),
        outcome=Outcome.ANSWERED,
        mode=AnswerMode.LLM,
        confidence=confidence(top_score(used), floor),
        citations=[citation(p) for p in used],
        usage=tally.report(agent),
    )


def proposed(
    agent: str, pending: PendingAction, hits: list[Hit], floor: float, tally: Tally
) -> AgentAnswer:
    """A tool that changes something waits for the caller's confirmation."""
    return AgentAnswer(
        agent=agent,
        text=f"{pending.summary}. Nothing has been changed yet: please confirm to go ahead.",
        outcome=Outcome.NEEDS_CONFIRMATION,
        mode=AnswerMode.LLM,
        confidence=confidence(top_score(hits), floor),
        usage=tally.report(agent),
        pending_action=pending,
    )


def quoted(
    agent: str,
    text: str,
    used: list[int],
    hits: list[Hit],
    floor: float,
    tally: Tally,
    calibrated: float | None = None,
) -> AgentAnswer:
    """The offline answer: sentences quoted from passages ``used`` (1-based); its confidence
    is ``calibrated`` (the answer model's) or else read from the passages' scores."""
    passages = [hits[i - 1] for i in used]
    return AgentAnswer(
        agent=agent,
        text=renumber_markers(text, used),
        outcome=Outcome.DEGRADED,
        mode=AnswerMode.OFFLINE,
        confidence=(
            calibrated if calibrated is not None else confidence(top_score(passages), floor)
        ),
        citations=[citation(p) for p in passages],
        usage=tally.report(agent),
    )
