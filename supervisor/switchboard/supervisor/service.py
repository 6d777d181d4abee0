"""The supervisor's domain logic: validate, route, dispatch, assemble. No gRPC types here."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace

from switchboard.core import errors
from switchboard.core.genai import AGENT_NAME, INPUT_TOKENS, OPERATION, OUTPUT_TOKENS
from switchboard.core.pricing import ModelPrice, estimate_cost
from switchboard.core.telemetry import mark_error, tracer, with_request_baggage
from switchboard.core.textcheck import validate_request_id, validate_text
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
from switchboard.store.audit import AuditEvent, AuditKind
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.dispatch import AgentClient
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.router import Candidate, Method, Router, RouteResult

log = logging.getLogger(__name__)

CARD_RETRY_INTERVAL_S = 5.0


class AuditSink(Protocol):
    """Takes audit events without blocking the request (``store.AuditWriter``)."""

    def submit(self, event: AuditEvent) -> bool: ...


class NoAudit:
    def submit(self, event: AuditEvent) -> bool:
        return False


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
        metrics: SupervisorMetrics | None = None,
        audit: AuditSink | None = None,
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
        self._metrics = metrics or SupervisorMetrics()
        self._audit: AuditSink = audit or NoAudit()
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
        return await self._traced_route(text, timeout)

    async def _traced_route(self, text: str, timeout: float | None) -> RouteResult:
        with tracer().start_as_current_span("route") as span:
            decision = await self._router.route(text, timeout=timeout)
            span.set_attributes(
                {
                    "switchboard.route.method": decision.method,
                    "switchboard.route.agent": decision.agent or "",
                    "switchboard.route.confidence": decision.confidence,
                    "switchboard.route.candidates": [
                        f"{c.agent}:{c.score:.3f}" for c in decision.candidates
                    ],
                    "switchboard.route.top_similarity": decision.top_similarity,
                }
            )
            return decision

    async def ask(self, ask: AskInput, *, timeout: float | None) -> AskResult:
        """Answers one request; ``timeout`` is the caller's remaining time (None: none set)."""
        started = time.monotonic()
        request_span = trace.get_current_span()
        method = agent = ""
        request_id = ask.request_id[:128]
        tenant = ask.metadata.get("tenant", "")
        try:
            text = validate_text(ask.text, max_chars=self._max_text_chars)
            request_id = validate_request_id(ask.request_id) or uuid.uuid4().hex
            request_span.set_attribute("switchboard.request_id", request_id)
            token = otel_context.attach(
                with_request_baggage(request_id, ask.session_id, ask.metadata.get("tenant", ""))
            )
            try:
                result = await self._ask(ask, text, request_id, started, timeout)
            finally:
                otel_context.detach(token)
        except errors.SwitchboardError as exc:
            self._metrics.record_request(
                agent=agent,
                method=method,
                status="error",
                seconds=time.monotonic() - started,
                error=type(exc).__name__,
            )
            self._record(
                AuditKind.ERROR,
                request_id,
                tenant,
                outcome=type(exc).__name__,
                detail={"message": exc.message[:500]},
            )
            raise
        request_span.set_attributes(
            {
                "switchboard.status": result.outcome.value,
                "switchboard.agent": result.agent,
                "switchboard.route.method": result.route.method,
                INPUT_TOKENS: result.usage.input_tokens,
                OUTPUT_TOKENS: result.usage.output_tokens,
                "switchboard.cost_usd": result.usage.cost_usd,
            }
        )
        self._metrics.record_request(
            agent=result.agent,
            method=result.route.method,
            status=result.outcome.value,
            seconds=time.monotonic() - started,
        )
        return result

    async def _ask(
        self, ask: AskInput, text: str, request_id: str, started: float, timeout: float | None
    ) -> AskResult:
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
            decision = await self._traced_route(text, timeout)
        usage = self._routing_usage(decision)
        tenant = ask.metadata.get("tenant", "")
        self._record(
            AuditKind.ROUTE_DECISION,
            request_id,
            tenant,
            agent=decision.agent or "",
            outcome=decision.method,
            detail={
                "confidence": round(decision.confidence, 4),
                "candidates": {c.agent: c.score for c in decision.candidates},
                "reason": decision.reason,
            },
        )
        if decision.agent is None:
            self._record(AuditKind.CLARIFICATION, request_id, tenant, outcome=decision.method)
            return self._unrouted(request_id, decision, usage)

        remaining = self._agent_timeout
        if timeout is not None:
            remaining = min(remaining, timeout - (time.monotonic() - started) - self._margin)
        if remaining <= 0:
            raise errors.DeadlineExceeded(
                f"the deadline ran out before agent {decision.agent!r} could be called"
            )
        call_started = time.monotonic()
        answer = await self._invoke(
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
            remaining,
        )
        self._record(
            AuditKind.AGENT_CALL,
            request_id,
            tenant,
            agent=answer.agent,
            outcome=answer.outcome.value,
            detail={
                "mode": answer.mode.value,
                "latency_ms": round((time.monotonic() - call_started) * 1000, 1),
                "input_tokens": answer.usage.input_tokens,
                "output_tokens": answer.usage.output_tokens,
                "cost_usd": answer.usage.cost_usd,
                "citations": [c.source_id for c in answer.citations],
            },
        )
        if answer.outcome == Outcome.ESCALATED:
            self._record(
                AuditKind.ESCALATION,
                request_id,
                tenant,
                agent=answer.agent,
                outcome="nothing relevant retrieved",
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

    async def _invoke(self, agent: str, request: AgentRequest, timeout: float) -> AgentAnswer:
        """One agent call in an ``invoke_agent {name}`` client span."""
        with tracer().start_as_current_span(
            f"invoke_agent {agent}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                OPERATION: "invoke_agent",
                AGENT_NAME: agent,
                "server.address": self._agents[agent].entry.address,
                "switchboard.deadline_s": round(timeout, 3),
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                answer = await self._client.invoke(agent, request, timeout=timeout)
            except errors.SwitchboardError as exc:
                mark_error(span, type(exc).__name__, exc.message)
                self._metrics.record_agent_call(agent, type(exc).__name__)
                raise
            span.set_attributes(
                {
                    INPUT_TOKENS: answer.usage.input_tokens,
                    OUTPUT_TOKENS: answer.usage.output_tokens,
                    "switchboard.status": answer.outcome.value,
                    "switchboard.mode": answer.mode.value,
                }
            )
            self._metrics.record_agent_call(agent)
            return answer

    def _record(
        self,
        kind: AuditKind,
        request_id: str,
        tenant: str,
        *,
        agent: str = "",
        outcome: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._audit.submit(
            AuditEvent(
                kind=kind,
                request_id=request_id or None,
                tenant=tenant or None,
                agent=agent or None,
                outcome=outcome or None,
                detail=detail or {},
            )
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
