"""The supervisor's domain logic: validate, route, dispatch, assemble. No gRPC types here."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from switchboard.core import errors
from switchboard.core.pricing import ModelPrice, estimate_cost
from switchboard.core.textcheck import validate_request_id, validate_text
from switchboard.core.types import (
    AgentCard,
    AgentRequest,
    AgentUsage,
    AnswerMode,
    Citation,
    Outcome,
    UsageReport,
)
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.dispatch import AgentClient
from switchboard.supervisor.router import Candidate, Method, Router, RouteResult

log = logging.getLogger(__name__)

CARD_RETRY_INTERVAL_S = 5.0


@dataclass
class AskInput:
    text: str
    request_id: str = ""
    session_id: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    agent: str = ""


@dataclass
class AskResult:
    request_id: str
    outcome: Outcome
    answer: str
    agent: str
    confidence: float
    route: RouteResult
    citations: list[Citation] = field(default_factory=list)
    usage: UsageReport = field(default_factory=UsageReport)
    mode: AnswerMode = AnswerMode.NONE


@dataclass
class KnownAgent:
    entry: AgentEntry
    card: AgentCard | None
    card_source: str  # "inline", "describe" or ""


class SupervisorService:
    def __init__(
        self,
        entries: list[AgentEntry],
        *,
        client: AgentClient,
        router: Router,
        prices: dict[str, ModelPrice],
        max_text_chars: int,
        agent_timeout_s: float,
        deadline_margin_s: float,
        describe_timeout_s: float,
    ) -> None:
        self._agents = {
            e.name: KnownAgent(e, e.inline_card, "inline" if e.inline_card else "") for e in entries
        }
        self._client = client
        self._router = router
        self._prices = prices
        self._max_text_chars = max_text_chars
        self._agent_timeout = agent_timeout_s
        self._margin = deadline_margin_s
        self._describe_timeout = describe_timeout_s
        self._cards_lock = asyncio.Lock()
        self._last_card_attempt = float("-inf")

    # -- cards -------------------------------------------------------------------------------

    async def load_cards(self) -> None:
        """Fetches missing cards with Describe, then (re)fits the router on what is known."""
        async with self._cards_lock:
            missing = [a for a in self._agents.values() if a.card is None]
            self._last_card_attempt = time.monotonic()
            results = await asyncio.gather(
                *(
                    self._client.describe(a.entry.name, timeout=self._describe_timeout)
                    for a in missing
                ),
                return_exceptions=True,
            )
            fetched = 0
            for known, result in zip(missing, results, strict=True):
                if isinstance(result, AgentCard):
                    known.card, known.card_source = result, "describe"
                    fetched += 1
                else:
                    log.warning(
                        "agent card unavailable; will retry",
                        extra={"agent": known.entry.name, "error": str(result)},
                    )
            if fetched or not self._router.ready:
                await self._router.fit([a.card for a in self._agents.values() if a.card])

    async def _ensure_cards(self) -> None:
        if all(a.card for a in self._agents.values()):
            return
        if time.monotonic() - self._last_card_attempt >= CARD_RETRY_INTERVAL_S:
            await self.load_cards()

    def agents(self) -> list[KnownAgent]:
        return list(self._agents.values())

    # -- requests ----------------------------------------------------------------------------

    async def route(self, text: str, *, timeout: float | None = None) -> RouteResult:
        text = validate_text(text, max_chars=self._max_text_chars)
        await self._ensure_cards()
        return await self._router.route(text, timeout=timeout)

    async def ask(self, ask: AskInput, *, timeout: float | None) -> AskResult:
        """Answers one request; ``timeout`` is the caller's remaining time (None: none set)."""
        started = time.monotonic()
        text = validate_text(ask.text, max_chars=self._max_text_chars)
        request_id = validate_request_id(ask.request_id) or uuid.uuid4().hex
        if ask.agent:
            if ask.agent not in self._agents:
                known = ", ".join(sorted(self._agents))
                raise errors.NotFound(f"unknown agent {ask.agent!r}; known agents: {known}")
            query = await self._router.embed(text)
            decision = RouteResult(
                ask.agent,
                1.0,
                Method.EXPLICIT,
                [Candidate(ask.agent, 1.0)],
                "caller named the agent",
                query,
            )
        else:
            await self._ensure_cards()
            decision = await self._router.route(text, timeout=timeout)
        usage = self._routing_usage(decision)
        if decision.agent is None:
            return self._unrouted(request_id, decision, usage)

        remaining = self._agent_timeout
        if timeout is not None:
            remaining = min(remaining, timeout - (time.monotonic() - started) - self._margin)
        if remaining <= 0:
            raise errors.DeadlineExceeded(
                f"the deadline ran out before agent {decision.agent!r} could be called"
            )
        answer = await self._client.invoke(
            decision.agent,
            AgentRequest(
                request_id=request_id,
                session_id=ask.session_id,
                text=text,
                metadata=ask.metadata,
                query_embedding=(
                    decision.query_vector.tolist() if decision.query_vector is not None else None
                ),
            ),
            timeout=remaining,
        )
        log.info(
            "answered",
            extra={
                "request_id": request_id,
                "agent": answer.agent,
                "status": answer.outcome.value,
                "route_method": decision.method,
            },
        )
        return AskResult(
            request_id=request_id,
            outcome=answer.outcome,
            answer=answer.text,
            agent=answer.agent,
            confidence=answer.confidence,
            route=decision,
            citations=answer.citations,
            usage=usage.merged(answer.usage),
            mode=answer.mode,
        )

    def _routing_usage(self, decision: RouteResult) -> UsageReport:
        if decision.llm_usage is None:
            return UsageReport()
        cost = estimate_cost(decision.llm_model, decision.llm_usage, self._prices)
        return UsageReport(
            breakdown=[
                AgentUsage.from_tokens("supervisor", decision.llm_model, decision.llm_usage, cost)
            ]
        )

    def _unrouted(self, request_id: str, decision: RouteResult, usage: UsageReport) -> AskResult:
        if decision.method == Method.OUT_OF_SCOPE:
            names = sorted(a.card.name for a in self._agents.values() if a.card)
            answer = (
                "Sorry, that is outside what I can help with. I can answer questions about "
                f"{', '.join(names)}. Could you rephrase your request?"
            )
        else:
            names = [c.agent for c in decision.candidates]
            who = " or ".join(names) if names else "one of our teams"
            answer = (
                f"I'm not sure whether this is a question for {who}. "
                "Could you add a little detail about what you need?"
            )
        log.info(
            "needs clarification",
            extra={"request_id": request_id, "route_method": decision.method},
        )
        return AskResult(
            request_id=request_id,
            outcome=Outcome.NEEDS_CLARIFICATION,
            answer=answer,
            agent="",
            confidence=decision.confidence,
            route=decision,
            usage=usage,
        )
