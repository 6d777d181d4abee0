"""What an AskStream is made of, and the sink the request pipeline emits to.

The pipeline (``service.py``, ``compound/fanout.py``, ``gateway/agents.py``) takes an optional
:class:`AskEvents` and calls it at each step: the route once decided, each agent call
(:meth:`AskEvents.part`, labelled with agent and part), every event the agent streams, and
its answer. :meth:`AskEvents.finish` then makes part 0's text equal the final answer (a
reset and the text, when it differs: a refusal, a clarification, a replayed result, the
merged answer of a compound request) and sends the final result, the very ``AskResult``
``Ask`` returns. Events are numbered and handed to ``deliver`` (the stream's run) in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opentelemetry import trace

from switchboard.core.stream_metrics import TTFT_ATTRIBUTE
from switchboard.core.streaming import (
    RESET_REWRITTEN,
    AnswerEvent,
    CitationFound,
    Reset,
    StreamedText,
    TextDelta,
    UsageSoFar,
    sentences_of,
)
from switchboard.core.types import AgentAnswer, PendingAction, UsageReport
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.routing.router import RouteResult


@dataclass(frozen=True)
class RouteDecided:
    decision: RouteResult


@dataclass(frozen=True)
class AgentStarted:
    agent: str
    part: int
    part_text: str


@dataclass(frozen=True)
class PartEvent:
    """A text delta, reset or citation of one agent's part."""

    agent: str
    part: int
    event: TextDelta | Reset | CitationFound


@dataclass(frozen=True)
class UsageTotals:
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class ActionProposed:
    agent: str
    part: int
    action: PendingAction


@dataclass(frozen=True)
class Partial:
    reason: str
    answer: str
    usage: UsageTotals


@dataclass(frozen=True)
class Finished:
    result: AskResult


AskStreamEvent = (
    RouteDecided | AgentStarted | PartEvent | UsageTotals | ActionProposed | Partial | Finished
)


@dataclass(frozen=True)
class Numbered:
    sequence: int
    event: AskStreamEvent


Deliver = Callable[[Numbered], Awaitable[None]]


class AskEvents:
    """The sink of one streamed request."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._sequence = 0
        self._lock = asyncio.Lock()  # parts of a compound request emit concurrently
        self._shown: dict[int, StreamedText] = {}
        self._routing = UsageReport()
        self._running: dict[int, UsageSoFar] = {}  # agents still writing
        self._done: dict[int, UsageReport] = {}  # agents that answered
        self._started = time.perf_counter()
        self.first_text_s: float | None = None

    async def _send(self, event: AskStreamEvent) -> None:
        async with self._lock:
            self._sequence += 1
            await self._deliver(Numbered(self._sequence, event))

    def shown(self, part: int = 0) -> str:
        view = self._shown.get(part)
        return view.text if view is not None else ""

    # -- pipeline steps ----------------------------------------------------------------------

    async def route(self, decision: RouteResult, usage: UsageReport) -> None:
        self._routing = usage
        await self._send(RouteDecided(decision))
        if usage.input_tokens or usage.output_tokens:
            await self._send(self.totals())

    def part(self, agent: str, part: int, text: str = "") -> PartEvents:
        return PartEvents(self, agent, part, text)

    async def relay(self, agent: str, part: int, event: AnswerEvent) -> None:
        if isinstance(event, UsageSoFar):
            self._running[part] = event
            await self._send(self.totals())
            return
        if isinstance(event, TextDelta) and self.first_text_s is None:
            self.first_text_s = time.perf_counter() - self._started
        self._shown.setdefault(part, StreamedText()).apply(event)
        await self._send(PartEvent(agent, part, event))

    async def answered(self, agent: str, part: int, answer: AgentAnswer) -> None:
        self._running.pop(part, None)
        self._done[part] = answer.usage
        await self._send(self.totals())
        if answer.pending_action is not None:
            await self._send(ActionProposed(agent, part, answer.pending_action))

    def totals(self) -> UsageTotals:
        reports = [self._routing, *self._done.values()]
        return UsageTotals(
            input_tokens=sum(r.input_tokens for r in reports)
            + sum(u.input_tokens for u in self._running.values()),
            output_tokens=sum(r.output_tokens for r in reports)
            + sum(u.output_tokens for u in self._running.values()),
            cost_usd=sum(r.cost_usd for r in reports),
        )

    # -- the end -----------------------------------------------------------------------------

    async def finish(self, result: AskResult) -> None:
        """Part 0 made equal to the final answer, then the final result."""
        agent = "" if result.parts else result.agent
        if self.shown(0) != result.answer:
            if self.shown(0) or self._shown.get(0, StreamedText()).citations:
                await self.relay(agent, 0, Reset(RESET_REWRITTEN))
            for piece in sentences_of(result.answer):
                await self.relay(agent, 0, TextDelta(piece))
        view = self._shown.get(0, StreamedText())
        for i, c in enumerate(result.citations, start=1):
            if view.citations.get(i) != c:
                await self.relay(agent, 0, CitationFound(i, c))
        await self._send(Finished(result))

    async def partial(self, reason: str) -> None:
        """The stream ends early (budget): what it had."""
        await self._send(Partial(reason, self.shown(0), self.totals()))


class PartEvents:
    """One agent call's events, labelled with its agent and part (an ``AnswerEvents``)."""

    def __init__(self, events: AskEvents, agent: str, part: int, text: str) -> None:
        self._events = events
        self.agent = agent
        self.part = part
        self.text = text
        self._first = False

    async def started(self) -> None:
        await self._events._send(AgentStarted(self.agent, self.part, self.text))

    async def emit(self, event: AnswerEvent) -> None:
        if isinstance(event, TextDelta) and not self._first:
            self._first = True  # on this agent call's span (``invoke_agent``)
            elapsed = time.perf_counter() - self._events._started
            trace.get_current_span().set_attribute(TTFT_ATTRIBUTE, round(elapsed, 6))
        await self._events.relay(self.agent, self.part, event)

    async def answered(self, answer: AgentAnswer) -> None:
        await self._events.answered(self.agent, self.part, answer)
