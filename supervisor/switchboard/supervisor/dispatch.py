"""One routed request answered by one agent: the agent request (text, query vector, the
conversation window and handoff brief), the call through the gateway (its breaker and
deadline), escalation when the agent is down, and the agent's answer as the caller's result.
Compound requests go through ``compound/fanout.py`` instead."""

from __future__ import annotations

import logging
import time

from switchboard.core import errors
from switchboard.core.context import RequestContext
from switchboard.core.types import AgentRequest, Outcome, Screening, UsageReport
from switchboard.supervisor import replies
from switchboard.supervisor.audit import RequestAudit
from switchboard.supervisor.gateway.agents import AgentGateway
from switchboard.supervisor.memory.conversation import NO_SESSION, Recall
from switchboard.supervisor.results import AnsweredBy, AskInput, AskResult, RouteSummary
from switchboard.supervisor.routing.router import RouteResult
from switchboard.supervisor.streaming.events import AskEvents

log = logging.getLogger(__name__)


class SingleAgentDispatch:
    def __init__(self, gateway: AgentGateway) -> None:
        self._gateway = gateway

    async def answer(
        self,
        ctx: RequestContext,
        audit: RequestAudit,
        ask: AskInput,
        text: str,
        decision: RouteResult,
        usage: UsageReport,
        metadata: dict[str, str],
        screening: Screening,
        recall: Recall = NO_SESSION,
        events: AskEvents | None = None,
    ) -> AskResult:
        agent = decision.agent or ""
        if ctx.principal is not None:
            ctx.principal.check_agent(agent)  # the tenant's allow-list
        started = time.monotonic()
        window, brief = recall.window_for(agent)
        request = AgentRequest(
            text=text,
            metadata=metadata,
            query_embedding=(
                decision.query_vector.tolist() if decision.query_vector is not None else None
            ),
            confirm_action=ask.confirm_action,
            screening=screening,
            conversation=window,
            handoff=brief,
            memories=list(recall.memories),
        )
        try:
            answer = await self._gateway.invoke(
                agent,
                request,
                ctx.evolve(budget=ctx.budget.take_hop(f"agent {agent!r}")),
                events=events.part(agent, 0) if events is not None else None,
            )
        except errors.Unavailable as exc:
            if not self._gateway.policy.escalate_when_down:
                raise
            audit.escalation(agent, "agent unavailable", error=exc.message[:500])
            log.warning(
                "escalating: agent unavailable",
                extra={"request_id": ctx.request_id, "agent": agent, "error": exc.message},
            )
            return replies.escalated_unavailable(ctx.request_id, decision, usage)
        audit.agent_answered(answer, started)
        if answer.outcome == Outcome.ESCALATED:
            audit.escalation(
                answer.agent,
                "the model's answer cited nothing" if answer.uncited else "nothing relevant found",
            )
        log.info(
            "answered",
            extra={
                "request_id": ctx.request_id,
                "agent": answer.agent,
                "status": answer.outcome.value,
                "route_method": decision.method,
            },
        )
        return AskResult(
            request_id=ctx.request_id,
            outcome=answer.outcome,
            answer=answer.text,
            agent=answer.agent,
            confidence=answer.confidence,
            route=RouteSummary.of(decision),
            citations=answer.citations,
            usage=usage.merged(answer.usage),
            mode=answer.mode,
            pending_action=answer.pending_action,
            uncited=answer.uncited,
            withheld_draft=answer.withheld_draft if answer.outcome == Outcome.ESCALATED else "",
            prompt_version=answer.prompt_version,
            answered_by=AnsweredBy(kind="agent", name=answer.agent)
            if answer.outcome != Outcome.ESCALATED
            else None,
        )
