"""The supervisor's request pipeline: screen, route, dispatch, remember. No gRPC here.

One request runs: embed the text once → screen it (refuse injections) → decide the route
(compound split, the session's agent, the router) → ask one agent, or several in parallel
for a compound request → remember the turn. Idempotency (a repeated request id gets the
stored result) wraps the whole. Each step lives in its own module; this one only orders them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace

from switchboard.core import errors
from switchboard.core.audit import AuditSink, NoAudit
from switchboard.core.auth import Principal
from switchboard.core.budget import Budget
from switchboard.core.context import Deadline, RequestContext
from switchboard.core.embeddings import Vector
from switchboard.core.genai import INPUT_TOKENS, OUTPUT_TOKENS
from switchboard.core.pricing import ModelPrice
from switchboard.core.telemetry import current_trace_id, with_request_baggage
from switchboard.core.textcheck import validate_request_id, validate_text
from switchboard.core.types import (
    Screening,
)
from switchboard.supervisor import replies
from switchboard.supervisor.audit import RequestAudit
from switchboard.supervisor.compound.fanout import CompoundAnswerer
from switchboard.supervisor.dispatch import SingleAgentDispatch
from switchboard.supervisor.gateway.agents import AgentGateway, KnownAgent
from switchboard.supervisor.learning import ExampleRecorder
from switchboard.supervisor.ledger import RequestLedger, fingerprint
from switchboard.supervisor.memory.conversation import NO_SESSION, ConversationMemory
from switchboard.supervisor.memory.ids import validate_session_id, validate_user_id
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.results import AskInput, AskResult
from switchboard.supervisor.review.inbox import ReviewInbox
from switchboard.supervisor.routing.decision import RouteDecider, routing_usage
from switchboard.supervisor.routing.router import Candidate, Method, RouteResult
from switchboard.supervisor.routing.sessions import SessionMemory
from switchboard.supervisor.screening import NoScreening, Screener, screen_traced
from switchboard.supervisor.streaming.events import AskEvents

log = logging.getLogger(__name__)

#: AskRequest.metadata keys that become typed fields of the request context.
CUSTOMER_KEY = "customer_id"
USER_KEY = "user_id"


class SupervisorService:
    def __init__(
        self,
        *,
        gateway: AgentGateway,
        decider: RouteDecider,
        compound: CompoundAnswerer,
        prices: Mapping[str, ModelPrice],
        max_text_chars: int,
        default_budget: Budget | None = None,
        screener: Screener | None = None,
        audit: AuditSink | None = None,
        metrics: SupervisorMetrics | None = None,
        ledger: RequestLedger | None = None,
        sessions: SessionMemory | None = None,
        examples: ExampleRecorder | None = None,
        inbox: ReviewInbox | None = None,
        audit_request_text: bool = False,
        memory: ConversationMemory | None = None,
    ) -> None:
        self.gateway = gateway
        self._decider = decider
        self._router = decider.router
        self._compound = compound
        self._prices = dict(prices)
        self._max_text_chars = max_text_chars
        self._default_budget = default_budget or Budget()
        self._screener: Screener = screener or NoScreening()
        self._audit_sink: AuditSink = audit or NoAudit()
        self._metrics = metrics or SupervisorMetrics()
        self._ledger = ledger
        self._sessions = sessions  # follow-ups stay with the session's agent (None: off)
        self._examples = examples  # records example candidates for review (None: off)
        self._inbox = inbox  # opens review items for people (None: no human loop)
        self._audit_text = audit_request_text
        self._memory = memory  # stored turns, the agent's window (None: memory off)
        self._dispatch = SingleAgentDispatch(gateway)

    # -- the request context ---------------------------------------------------------------

    def context(
        self,
        *,
        principal: Principal | None,
        request_id: str = "",
        session_id: str = "",
        metadata: Mapping[str, str] | None = None,
        budget: Budget | None = None,
        time_remaining: float | None = None,
    ) -> RequestContext:
        """The request context of one call: the tenant from the principal only, the tightest
        of the caller's and the service's budgets, the caller's deadline."""
        metadata = metadata or {}
        return RequestContext(
            request_id=validate_request_id(request_id) or uuid.uuid4().hex,
            tenant=(principal.tenant if principal is not None else None) or "",
            principal=principal,
            session_id=validate_session_id(session_id),
            budget=self._default_budget.tightest(budget or self._default_budget),
            deadline=Deadline.after(time_remaining),
            customer_id=metadata.get(CUSTOMER_KEY, ""),
            user_id=validate_user_id(metadata.get(USER_KEY, "")),
        )

    def agents(self) -> list[KnownAgent]:
        return self.gateway.known()

    async def load_cards(self) -> None:
        await self.gateway.load_cards()

    # -- Route -----------------------------------------------------------------------------

    async def route(self, text: str, ctx: RequestContext) -> RouteResult:
        """The decision ``Ask`` would make for ``text`` (no agent runs, nothing is stored)."""
        text = validate_text(text, max_chars=self._max_text_chars)
        await self.gateway.ensure_cards()
        query = await self._router.embed(text)
        screening = await self._screener.screen(text, query)
        if screening.blocked:
            return replies.blocked_route(screening, query)
        return await self._decider.decide(text, query, ctx.deadline)

    # -- Ask -------------------------------------------------------------------------------

    async def ask(
        self, ctx: RequestContext, ask: AskInput, events: AskEvents | None = None
    ) -> AskResult:
        """Answers one request (a repeated caller-chosen request id gets the stored result).
        With ``events`` (AskStream) each step is also reported as it happens."""
        started = time.monotonic()
        span = trace.get_current_span()
        span.set_attribute("switchboard.request_id", ctx.request_id)
        audit = RequestAudit(self._audit_sink, ctx, keep_text=self._audit_text)
        token = otel_context.attach(
            with_request_baggage(ctx.request_id, ctx.session_id, ctx.tenant)
        )
        replayed = False
        try:
            if self._ledger is None or not ask.idempotent:
                result = await self._answer(ctx, ask, audit, events)
            else:
                result, replayed = await self._ledger.run(
                    ctx, _fingerprint(ctx, ask), lambda: self._answer(ctx, ask, audit, events)
                )
        except errors.SwitchboardError as exc:
            self._metrics.record_request(
                agent=audit.agent or ask.agent,
                method=audit.method or (Method.EXPLICIT if ask.agent else ""),
                status="error",
                seconds=time.monotonic() - started,
                error=type(exc).__name__,
            )
            audit.error(exc)
            raise
        finally:
            otel_context.detach(token)
        if replayed:
            audit.replay()
            self._metrics.record_request(
                agent=result.agent, method="replay", status="REPLAYED", seconds=0.0
            )
            return result
        span.set_attributes(
            {
                "switchboard.status": result.outcome.value,
                "switchboard.agent": result.agent,
                "switchboard.route.method": result.route.method,
                "switchboard.prompt.version": result.prompt_version,
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
            prompt_version=result.prompt_version,
        )
        return result

    async def _answer(
        self,
        ctx: RequestContext,
        ask: AskInput,
        audit: RequestAudit,
        events: AskEvents | None = None,
    ) -> AskResult:
        text = validate_text(ask.text, max_chars=self._max_text_chars)
        if ctx.principal is not None:
            # The tenant's configured customers; the agent checks the backend's data too.
            ctx.principal.check_customer(ctx.customer_id)
        if ask.agent:
            self.gateway.check_known(ask.agent)
        confirm_agent = self.gateway.confirmation_agent(ask.confirm_action, ask.agent)
        query = await self._router.embed(text)
        screening = await screen_traced(self._screener, text, query)
        if screening.blocked:
            audit.refusal(screening)
            log.warning(
                "refused by screening",
                extra={"request_id": ctx.request_id, "reason": screening.reason},
            )
            return self._stamped(replies.refused(ctx.request_id, screening, query))
        verdict = Screening.SUSPICIOUS if screening.suspicious else Screening.CLEAN
        recall = await self._memory.recall(ctx, query) if self._memory is not None else NO_SESSION
        decision = await self._decide(ctx, ask, text, query, confirm_agent)
        usage = routing_usage(decision, self._prices)
        spent = ctx.budget.spend(usage.input_tokens + usage.output_tokens, usage.cost_usd)
        ctx = ctx.evolve(budget=spent)
        audit.route_decision(decision)
        if events is not None:
            await events.route(decision, usage)
        metadata = {k: v for k, v in ask.metadata.items() if k not in (CUSTOMER_KEY, USER_KEY)}
        if decision.parts:
            result = await self._compound.answer(
                ctx, audit, text, decision, usage, metadata=metadata, screening=verdict,
                events=events,
            )  # fmt: skip
        elif decision.agent is None:
            audit.clarification(decision.method)
            log.info(
                "needs clarification",
                extra={"request_id": ctx.request_id, "route_method": decision.method},
            )
            result = replies.unrouted(ctx.request_id, decision, usage, self.gateway.card_names())
        else:
            result = await self._dispatch.answer(
                ctx, audit, ask, text, decision, usage, metadata, verdict, recall, events
            )
        await self._learn(ctx, text, query, decision, result)
        result = self._stamped(result)
        if self._inbox is not None:  # escalations, approvals, samples reach a person
            result = await self._inbox.observe(ctx, text, result, retriable=ask.idempotent)
        if self._memory is not None:  # stores the turn; the result says what it continued
            result = await self._memory.finish(ctx, recall, text, result)
        return result

    async def _decide(
        self,
        ctx: RequestContext,
        ask: AskInput,
        text: str,
        query: Vector,
        confirm_agent: str,
    ) -> RouteResult:
        if ask.agent or confirm_agent:
            agent = ask.agent or confirm_agent
            why = (
                "caller named the agent"
                if ask.agent
                else f"confirmation of an action {agent} proposed"
            )
            return RouteResult(agent, 1.0, Method.EXPLICIT, [Candidate(agent, 1.0)], why, query)
        await self.gateway.ensure_cards()
        conversation = (
            await self._sessions.load(ctx.tenant, ctx.session_id) if self._sessions else None
        )
        # A confirmation belongs to one agent's pending action: never split it.
        return await self._decider.decide(
            text,
            query,
            ctx.deadline,
            compound=not ask.confirm_action,
            conversation=conversation,
        )

    async def _learn(
        self,
        ctx: RequestContext,
        text: str,
        query: Vector,
        decision: RouteResult,
        result: AskResult,
    ) -> None:
        """After a turn: the session remembers its agent and this turn's own embedding, and a
        request Claude routed (or one a person must resolve) becomes an example candidate.
        Best effort; never raises."""
        if self._sessions is not None and ctx.session_id and result.agent:
            await self._sessions.remember(ctx.tenant, ctx.session_id, result.agent, query)
        if self._examples is not None:  # queued; written off the request path
            self._examples.observe(
                request_id=result.request_id,
                tenant=ctx.tenant,
                text=text,
                decision=decision,
                outcome=result.outcome,
                answered_by=result.agent,
            )

    @staticmethod
    def _stamped(result: AskResult) -> AskResult:
        return result.model_copy(update={"trace_id": current_trace_id()})

    async def close(self) -> None:
        """Writes what is still queued (example candidates); call before the store closes."""
        if self._examples is not None:
            await self._examples.close()
        await self.gateway.close()


def _fingerprint(ctx: RequestContext, ask: AskInput) -> str:
    """What makes a repeat of the request id the same request (Ask and AskStream alike)."""
    return fingerprint(
        text=ask.text,
        session_id=ctx.session_id,
        agent=ask.agent,
        confirm_action=ask.confirm_action,
        metadata=ask.metadata,
    )
