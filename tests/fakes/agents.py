"""A fake AgentClient: scripted agent answers and failures, recorded calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.core import errors
from switchboard.core.context import RequestContext
from switchboard.core.streaming import AnswerEvents, TextDelta, sentences_of
from switchboard.core.types import (
    AgentAnswer,
    AgentCard,
    AgentRequest,
    AgentUsage,
    AnswerMode,
    Citation,
    Outcome,
    UsageReport,
)


@dataclass
class FakeAgentClient:
    cards: dict[str, AgentCard] = field(default_factory=dict)
    failures: dict[str, errors.SwitchboardError] = field(default_factory=dict)
    # (agent, request, the request context it came with, timeout), in call order
    invocations: list[tuple[str, AgentRequest, RequestContext, float]] = field(default_factory=list)
    describes: list[str] = field(default_factory=list)
    closed: bool = False

    async def invoke(
        self, agent: str, request: AgentRequest, ctx: RequestContext, *, timeout: float
    ) -> AgentAnswer:
        self.invocations.append((agent, request, ctx, timeout))
        if agent in self.failures:
            raise self.failures[agent]
        return AgentAnswer(
            agent=agent,
            text=f"{agent} answer to {request.text}",
            outcome=Outcome.ANSWERED,
            mode=AnswerMode.LLM,
            confidence=0.8,
            citations=[Citation(source_id="doc.md", title="Doc", snippet="s", score=0.7)],
            usage=UsageReport(
                breakdown=[AgentUsage(agent=agent, model="m", input_tokens=10, output_tokens=5)]
            ),
        )

    async def invoke_stream(
        self,
        agent: str,
        request: AgentRequest,
        ctx: RequestContext,
        *,
        timeout: float,
        events: AnswerEvents,
    ) -> AgentAnswer:
        """``invoke``, its answer streamed sentence by sentence."""
        answer = await self.invoke(agent, request, ctx, timeout=timeout)
        for piece in sentences_of(answer.text):
            await events.emit(TextDelta(piece))
        return answer

    async def describe(self, agent: str, *, timeout: float) -> AgentCard:
        self.describes.append(agent)
        if agent not in self.cards:
            raise errors.Unavailable(f"{agent} is down")
        return self.cards[agent]

    async def close(self) -> None:
        self.closed = True
