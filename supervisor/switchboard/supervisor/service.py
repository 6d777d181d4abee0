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
from switchboard.core.action_ids import action_agent
from switchboard.core.auth import Principal
from switchboard.core.breaker import BreakerState, CircuitBreaker
from switchboard.core.budget import Budget
from switchboard.core.embeddings import Vector
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
    AnswerPart,
    Citation,
    Outcome,
    PendingAction,
    UsageReport,
)
from switchboard.store.audit import AuditEvent, AuditKind
from switchboard.supervisor.compound.merge import AnswerMerger, failed_answer
from switchboard.supervisor.compound.planner import CompoundPlanner
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.gateway.client import AgentClient
from switchboard.supervisor.learning import ExampleRecorder
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.routing.router import Candidate, Method, Router, RouteResult, SubRoute
from switchboard.supervisor.routing.sessions import Conversation, SessionMemory
from switchboard.supervisor.screening import (
    GUARD_METADATA_KEY,
    SUSPICIOUS,
    NoScreening,
    Screener,
    Screening,
)

log = logging.getLogger(__name__)

CARD_RETRY_INTERVAL_S = 5.0
REFUSAL_MESSAGE = (
    "I can't help with that request: it looks like an attempt to override how this assistant "
    "works. If this is a genuine question, please rephrase it."
)
UNAVAILABLE_MESSAGE = (
    "The {agent} team's assistant is unavailable right now, so I've passed your request to a "
    "person, who will follow up."
)


@dataclass(frozen=True)
class BreakerPolicy:
    """When an agent counts as down, and what the caller gets while it is."""

    failure_threshold: int = 5
    reset_timeout_s: float = 10.0
    escalate_when_down: bool = True  # False: the caller gets UNAVAILABLE instead
    # A timeout counts against the agent only if it had at least this long: a caller's tight
    # deadline says nothing of the agent, and must not open its breaker for everyone.
    min_timeout_s: float = 1.0


class AuditSink(Protocol):
    """Takes audit events without blocking the request (``store.AuditWriter``)."""

    def submit(self, event: AuditEvent) -> bool: ...


class BreakerHealth(Protocol):
    """Publishes an agent's breaker state (e.g. as a gRPC health status)."""

    async def __call__(self, agent: str, state: BreakerState) -> None: ...


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
    confirm_action: str = ""
    budget: Budget | None = None
    principal: Principal | None = None  # the authenticated caller (None: not authenticated)


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
    pending_action: PendingAction | None = None
    parts: list[AnswerPart] = field(default_factory=list)  # compound requests: one per part


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
        screener: Screener | None = None,
        breaker_policy: BreakerPolicy | None = None,
        default_budget: Budget | None = None,
        breaker_health: BreakerHealth | None = None,
        planner: CompoundPlanner | None = None,
        merger: AnswerMerger | None = None,
        sessions: SessionMemory | None = None,
        examples: ExampleRecorder | None = None,
    ) -> None:
        """``planner`` splits compound requests (default: up to 3 parts); ``merger`` merges
        their answers (default: the structured merge, no LLM)."""
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
        self._screener: Screener = screener or NoScreening()
        self._policy = breaker_policy or BreakerPolicy()
        self._default_budget = default_budget or Budget()
        self._breaker_health = breaker_health
        self._published: dict[str, BreakerState] = {}
        self._planner = planner or CompoundPlanner(router)
        self._merger = merger or AnswerMerger(prices=prices)
        self._sessions = sessions  # follow-ups stay with the session's agent (None: off)
        self._examples = examples  # records example candidates for review (None: off)
        self.breakers = {
            name: CircuitBreaker(
                f"agent:{name}",
                failure_threshold=self._policy.failure_threshold,
                reset_timeout_s=self._policy.reset_timeout_s,
                on_change=self._metrics.record_breaker,
            )
            for name in self._agents
        }

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
        query = await self._router.embed(text)
        screening = await self._screener.screen(text, query)
        if screening.blocked:
            return _blocked_route(screening, query)
        return await self._traced_route(text, timeout, query)

    async def _traced_route(
        self,
        text: str,
        timeout: float | None,
        query: Vector | None = None,
        *,
        compound: bool = True,
        conversation: Conversation | None = None,
    ) -> RouteResult:
        with tracer().start_as_current_span("route") as span:
            decision = await self._planner.plan(text, query) if compound else None
            if decision is None and conversation and self._sessions and query is not None:
                decision = await self._sessions.route(
                    self._router, text, query, conversation, timeout=timeout
                )
            if decision is None:
                decision = await self._router.route(text, timeout=timeout, query=query)
            span.set_attributes(
                {
                    "switchboard.route.method": decision.method,
                    "switchboard.route.agent": decision.agent or "",
                    "switchboard.route.confidence": decision.confidence,
                    "switchboard.route.candidates": [
                        f"{c.agent}:{c.score:.3f}" for c in decision.candidates
                    ],
                    "switchboard.route.top_similarity": decision.top_similarity,
                    "switchboard.route.parts": [
                        f"{p.agent}:{p.confidence:.3f}" for p in decision.parts
                    ],
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
        tenant = ask.metadata.get("tenant", "")
        budget = self._default_budget.tightest(ask.budget or self._default_budget)
        if ask.agent and ask.agent not in self._agents:
            known = ", ".join(sorted(self._agents))
            raise errors.NotFound(f"unknown agent {ask.agent!r}; known agents: {known}")
        confirm_agent = self._confirmation_agent(ask)
        query = await self._router.embed(text)
        screening = await self._screen(text, query)
        if screening.blocked:
            return self._refuse(request_id, tenant, screening, query)
        metadata = dict(ask.metadata)
        if screening.suspicious:
            metadata[GUARD_METADATA_KEY] = SUSPICIOUS
        if ask.agent or confirm_agent:
            agent = ask.agent or confirm_agent
            decision = RouteResult(
                agent,
                1.0,
                Method.EXPLICIT,
                [Candidate(agent, 1.0)],
                "caller named the agent"
                if ask.agent
                else f"confirmation of an action {agent} proposed",
                query,
            )
        else:
            await self._ensure_cards()
            conversation = (
                await self._sessions.load(tenant, ask.session_id) if self._sessions else None
            )
            # A confirmation belongs to one agent's pending action: never split it.
            decision = await self._traced_route(
                text, timeout, query, compound=not ask.confirm_action, conversation=conversation
            )
        usage = self._routing_usage(decision)
        budget = budget.spend(usage.input_tokens + usage.output_tokens, usage.cost_usd)
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
                "parts": [[p.agent, p.text] for p in decision.parts],
            },
        )
        if decision.parts:
            return await self._ask_compound(
                ask, text, request_id, decision, usage, budget, metadata, started, timeout
            )
        if decision.agent is None:
            self._record(AuditKind.CLARIFICATION, request_id, tenant, outcome=decision.method)
            result = self._unrouted(request_id, decision, usage)
            await self._learn(ask, tenant, text, query, result)
            return result
        if ask.principal is not None:
            ask.principal.check_agent(decision.agent)  # the tenant's allow-list

        remaining = self._agent_timeout
        if timeout is not None:
            remaining = min(remaining, timeout - (time.monotonic() - started) - self._margin)
        if remaining <= 0:
            raise errors.DeadlineExceeded(
                f"the deadline ran out before agent {decision.agent!r} could be called"
            )
        call_started = time.monotonic()
        try:
            answer = await self._invoke(
                decision.agent,
                AgentRequest(
                    request_id=request_id,
                    session_id=ask.session_id,
                    text=text,
                    metadata=metadata,
                    query_embedding=(
                        decision.query_vector.tolist()
                        if decision.query_vector is not None
                        else None
                    ),
                    confirm_action=ask.confirm_action,
                    budget=budget.take_hop(f"agent {decision.agent!r}"),
                ),
                remaining,
            )
        except errors.Unavailable as exc:
            if not self._policy.escalate_when_down:
                raise
            return self._escalate_unavailable(request_id, tenant, decision, usage, exc)
        self._record_agent_call(request_id, tenant, answer, call_started)
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
        result = AskResult(
            request_id=request_id,
            outcome=answer.outcome,
            answer=answer.text,
            agent=answer.agent,
            confidence=answer.confidence,
            route=decision,
            citations=answer.citations,
            usage=usage.merged(answer.usage),
            mode=answer.mode,
            pending_action=answer.pending_action,
        )
        await self._learn(ask, tenant, text, query, result)
        return result

    async def close(self) -> None:
        """Writes what is still queued (example candidates); call before the store closes."""
        if self._examples is not None:
            await self._examples.close()

    async def _learn(
        self, ask: AskInput, tenant: str, text: str, query: Vector, result: AskResult
    ) -> None:
        """After a turn: the session remembers its agent and this turn's own embedding, and a
        request Claude routed (or one a person must resolve) becomes an example candidate.
        Best effort; never raises."""
        if self._sessions is not None and ask.session_id and result.agent:
            await self._sessions.remember(tenant, ask.session_id, result.agent, query)
        if self._examples is not None:  # queued; written off the request path
            self._examples.observe(
                request_id=result.request_id,
                tenant=tenant,
                text=text,
                decision=result.route,
                outcome=result.outcome,
                answered_by=result.agent,
            )

    async def _ask_compound(
        self,
        ask: AskInput,
        text: str,
        request_id: str,
        decision: RouteResult,
        usage: UsageReport,
        budget: Budget,
        metadata: dict[str, str],
        started: float,
        timeout: float | None,
    ) -> AskResult:
        """Asks each part's agent in parallel, then merges the answers with attribution.

        A part whose agent fails is escalated with the error in its text; the others are
        still answered. Only when every part fails does the request fail (or escalate, when
        every agent is down and the breaker policy escalates)."""
        tenant = ask.metadata.get("tenant", "")
        parts = decision.parts

        def time_left() -> float | None:
            return None if timeout is None else timeout - (time.monotonic() - started)

        left = time_left()
        remaining = (
            self._agent_timeout if left is None else min(self._agent_timeout, left - self._margin)
        )
        if remaining <= 0:
            raise errors.DeadlineExceeded("the deadline ran out before the agents could be called")
        share = budget.split(len(parts))

        async def one(part: SubRoute) -> AgentAnswer | errors.SwitchboardError:
            call_started = time.monotonic()
            try:
                if ask.principal is not None:
                    ask.principal.check_agent(part.agent)  # the tenant's allow-list
                answer = await self._invoke(
                    part.agent,
                    AgentRequest(
                        request_id=request_id,
                        session_id=ask.session_id,
                        text=part.text,
                        metadata=metadata,
                        query_embedding=(
                            part.query_vector.tolist() if part.query_vector is not None else None
                        ),
                        budget=share.take_hop(f"agent {part.agent!r}"),
                    ),
                    remaining,
                )
            except errors.SwitchboardError as exc:
                self._record(
                    AuditKind.AGENT_CALL,
                    request_id,
                    tenant,
                    agent=part.agent,
                    outcome=type(exc).__name__,
                    detail={"part": part.text, "error": exc.message[:500]},
                )
                return exc
            self._record_agent_call(request_id, tenant, answer, call_started, part=part.text)
            return answer

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(p)) for p in parts]
        results = [t.result() for t in tasks]
        failures = [r for r in results if isinstance(r, errors.SwitchboardError)]
        all_down = all(isinstance(f, errors.Unavailable) for f in failures)
        if len(failures) == len(results) and not (self._policy.escalate_when_down and all_down):
            raise failures[0]
        answers = [
            failed_answer(p.agent, r) if isinstance(r, errors.SwitchboardError) else r
            for p, r in zip(parts, results, strict=True)
        ]
        for answer in answers:
            if answer.outcome == Outcome.ESCALATED:
                self._record(
                    AuditKind.ESCALATION,
                    request_id,
                    tenant,
                    agent=answer.agent,
                    outcome="compound part escalated",
                )
        spent = UsageReport(breakdown=[u for a in answers for u in a.usage.breakdown])
        left = time_left()
        with tracer().start_as_current_span("merge_answers") as span:
            merged = await self._merger.merge(
                text,
                parts,
                answers,
                time_left=None if left is None else left - self._margin,
                budget=budget.spend(spent.input_tokens + spent.output_tokens, spent.cost_usd),
            )
            span.set_attributes(
                {"switchboard.merge.by": merged.merged_by, "switchboard.merge.parts": len(parts)}
            )
        log.info(
            "answered compound request",
            extra={
                "request_id": request_id,
                "agents": [p.agent for p in parts],
                "status": merged.outcome.value,
                "merged_by": merged.merged_by,
                "notes": merged.notes,
            },
        )
        return AskResult(
            request_id=request_id,
            outcome=merged.outcome,
            answer=merged.text,
            agent=",".join(p.agent for p in parts),
            confidence=merged.confidence,
            route=decision,
            citations=merged.citations,
            usage=usage.merged(merged.usage),
            mode=merged.mode,
            pending_action=merged.pending_action,
            parts=merged.parts,
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
            breaker = self.breakers[agent]
            if not breaker.allow():
                exc = errors.Unavailable(
                    f"agent {agent!r} is unavailable: its circuit breaker is open after "
                    f"repeated failures (next probe in {breaker.retry_after_s:.1f} s)"
                )
                mark_error(span, "CircuitOpen", exc.message)
                self._metrics.record_agent_call(agent, "CircuitOpen")
                raise exc
            try:
                answer = await self._client.invoke(agent, request, timeout=timeout)
            except errors.SwitchboardError as exc:
                if isinstance(exc, errors.Unavailable) or (
                    isinstance(exc, errors.DeadlineExceeded)
                    and timeout >= self._policy.min_timeout_s
                ):
                    breaker.record_failure()
                else:
                    breaker.release_probe()  # the caller's mistake says nothing of the agent
                await self._publish_breaker(agent)
                mark_error(span, type(exc).__name__, exc.message)
                self._metrics.record_agent_call(agent, type(exc).__name__)
                raise
            except BaseException:
                breaker.release_probe()
                raise
            breaker.record_success()
            await self._publish_breaker(agent)
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

    def _record_agent_call(
        self,
        request_id: str,
        tenant: str,
        answer: AgentAnswer,
        call_started: float,
        *,
        part: str | None = None,
    ) -> None:
        """One answered agent call in the audit log (``part``: its piece of a compound)."""
        detail: dict[str, Any] = {} if part is None else {"part": part}
        detail.update(
            mode=answer.mode.value,
            latency_ms=round((time.monotonic() - call_started) * 1000, 1),
            input_tokens=answer.usage.input_tokens,
            output_tokens=answer.usage.output_tokens,
            cost_usd=answer.usage.cost_usd,
            citations=[c.source_id for c in answer.citations],
        )
        self._record(
            AuditKind.AGENT_CALL,
            request_id,
            tenant,
            agent=answer.agent,
            outcome=answer.outcome.value,
            detail=detail,
        )

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

    async def _screen(self, text: str, query: Vector) -> Screening:
        with tracer().start_as_current_span("screen_input") as span:
            screening = await self._screener.screen(text, query)
            span.set_attributes(
                {
                    "switchboard.guard.blocked": screening.blocked,
                    "switchboard.guard.suspicious": screening.suspicious,
                    "switchboard.guard.score": round(screening.score, 4),
                    "switchboard.guard.reason": screening.reason,
                }
            )
            return screening

    def _confirmation_agent(self, ask: AskInput) -> str:
        """The agent that proposed the action being confirmed ("" when none is)."""
        if not ask.confirm_action:
            return ""
        agent = action_agent(ask.confirm_action)
        if agent is None or agent not in self._agents:
            raise errors.InvalidRequest(
                "confirm_action is not an action id this service issued; pass the "
                "pending_action.id from the NEEDS_CONFIRMATION answer unchanged"
            )
        if ask.agent and ask.agent != agent:
            raise errors.InvalidRequest(
                f"confirm_action belongs to agent {agent!r}, not {ask.agent!r}"
            )
        return agent

    def _refuse(
        self, request_id: str, tenant: str, screening: Screening, query: Vector
    ) -> AskResult:
        decision = _blocked_route(screening, query)
        self._record(
            AuditKind.REFUSAL,
            request_id,
            tenant,
            outcome="blocked",
            detail={"source": "user", "reason": screening.reason, "score": screening.score},
        )
        log.warning(
            "refused by screening", extra={"request_id": request_id, "reason": screening.reason}
        )
        return AskResult(
            request_id=request_id,
            outcome=Outcome.REFUSED,
            answer=REFUSAL_MESSAGE,
            agent="",
            confidence=screening.score,
            route=decision,
        )

    def _escalate_unavailable(
        self,
        request_id: str,
        tenant: str,
        decision: RouteResult,
        usage: UsageReport,
        exc: errors.Unavailable,
    ) -> AskResult:
        """The chosen agent is down: hand the request to a person rather than fail or guess."""
        agent = decision.agent or ""
        self._record(
            AuditKind.ESCALATION,
            request_id,
            tenant,
            agent=agent,
            outcome="agent unavailable",
            detail={"error": exc.message[:500]},
        )
        log.warning(
            "escalating: agent unavailable",
            extra={"request_id": request_id, "agent": agent, "error": exc.message},
        )
        return AskResult(
            request_id=request_id,
            outcome=Outcome.ESCALATED,
            answer=UNAVAILABLE_MESSAGE.format(agent=agent),
            agent="",
            confidence=0.0,
            route=decision,
            usage=usage,
        )

    def record_replay(self, request_id: str, tenant: str) -> None:
        """A repeated request_id was answered from the stored response."""
        self._record(AuditKind.REPLAY, request_id, tenant, outcome="replayed")
        self._metrics.record_request(agent="", method="replay", status="REPLAYED", seconds=0.0)

    async def _publish_breaker(self, agent: str) -> None:
        if self._breaker_health is None:
            return
        state = self.breakers[agent].state
        if self._published.get(agent, BreakerState.CLOSED) is not state:
            self._published[agent] = state
            await self._breaker_health(agent, state)

    def breaker_states(self) -> dict[str, BreakerState]:
        return {name: b.state for name, b in self.breakers.items()}

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


def _blocked_route(screening: Screening, query: Vector | None) -> RouteResult:
    return RouteResult(
        None,
        screening.score,
        Method.BLOCKED,
        [],
        "refused: the text looks like a prompt-injection attempt",
        query,
        blocked=True,
        block_reason=screening.reason,
    )
