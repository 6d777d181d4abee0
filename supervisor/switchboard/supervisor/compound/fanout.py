"""Answers a compound request: each part asked of its agent in parallel, then one merge.

A part whose agent fails is escalated with the error in its text; the others are still
answered. Only when every part fails does the request fail (or escalate, when every agent is
down and the breaker policy escalates). Each part gets its own embedding, the request's
deadline and an equal share of its budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from switchboard.core import errors
from switchboard.core.context import RequestContext
from switchboard.core.telemetry import tracer
from switchboard.core.types import AgentAnswer, AgentRequest, Outcome, Screening, UsageReport
from switchboard.supervisor.audit import RequestAudit
from switchboard.supervisor.compound.merge import AnswerMerger, failed_answer, team
from switchboard.supervisor.gateway.agents import AgentGateway
from switchboard.supervisor.results import AskResult, RouteSummary
from switchboard.supervisor.routing.router import RouteResult, SubRoute
from switchboard.supervisor.streaming.events import AskEvents

log = logging.getLogger(__name__)


class CompoundAnswerer:
    def __init__(self, gateway: AgentGateway, merger: AnswerMerger) -> None:
        self._gateway = gateway
        self._merger = merger

    async def answer(
        self,
        ctx: RequestContext,
        audit: RequestAudit,
        text: str,
        decision: RouteResult,
        usage: UsageReport,
        *,
        metadata: dict[str, str],
        screening: Screening,
        events: AskEvents | None = None,
    ) -> AskResult:
        """``events`` (AskStream): each part streams labelled with its agent and number."""
        parts = decision.parts
        ctx.deadline.child(self._gateway.calls.deadline_margin_s).timeout(
            "the agents could be called"
        )
        share = ctx.budget.split(len(parts))

        async def one(number: int, part: SubRoute) -> AgentAnswer | errors.SwitchboardError:
            started = time.monotonic()
            try:
                if ctx.principal is not None:
                    ctx.principal.check_agent(part.agent)  # the tenant's allow-list
                answer = await self._gateway.invoke(
                    part.agent,
                    AgentRequest(
                        text=part.text,
                        metadata=metadata,
                        query_embedding=(
                            part.query_vector.tolist() if part.query_vector is not None else None
                        ),
                        screening=screening,
                    ),
                    ctx.evolve(budget=share.take_hop(f"agent {part.agent!r}")),
                    events=events.part(part.agent, number, part.text) if events else None,
                )
            except errors.SwitchboardError as exc:
                audit.agent_failed(part.agent, exc, part=part.text)
                return exc
            audit.agent_answered(answer, started, part=part.text)
            return answer

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i, p)) for i, p in enumerate(parts, start=1)]
        results = [t.result() for t in tasks]
        failures = [r for r in results if isinstance(r, errors.SwitchboardError)]
        all_down = all(isinstance(f, errors.Unavailable) for f in failures)
        escalate = self._gateway.policy.escalate_when_down
        if len(failures) == len(results) and not (escalate and all_down):
            raise failures[0]
        answers = [
            failed_answer(p.agent, r) if isinstance(r, errors.SwitchboardError) else r
            for p, r in zip(parts, results, strict=True)
        ]
        for answer in answers:
            if answer.outcome == Outcome.ESCALATED:
                audit.escalation(answer.agent, "compound part escalated")
        spent = UsageReport(breakdown=[u for a in answers for u in a.usage.breakdown])
        left = ctx.deadline.child(self._gateway.calls.deadline_margin_s).remaining()
        with tracer().start_as_current_span("merge_answers") as span:
            merged = await self._merger.merge(
                text,
                parts,
                answers,
                time_left=left,
                budget=ctx.budget.spend(spent.input_tokens + spent.output_tokens, spent.cost_usd),
            )
            span.set_attributes(
                {"switchboard.merge.by": merged.merged_by, "switchboard.merge.parts": len(parts)}
            )
        log.info(
            "answered compound request",
            extra={
                "request_id": ctx.request_id,
                "agents": [p.agent for p in parts],
                "status": merged.outcome.value,
                "merged_by": merged.merged_by,
                "notes": merged.notes,
            },
        )
        return AskResult(
            request_id=ctx.request_id,
            outcome=merged.outcome,
            answer=merged.text,
            agent=",".join(p.agent for p in parts),
            confidence=merged.confidence,
            route=RouteSummary.of(decision),
            citations=merged.citations,
            usage=usage.merged(merged.usage),
            mode=merged.mode,
            pending_action=merged.pending_action,
            parts=merged.parts,
            withheld_draft=withheld_drafts(parts, answers),
            # An escalation because every agent was down is not the request's final outcome.
            final=not (failures and len(failures) == len(results)),
        )


def withheld_drafts(routes: Sequence[SubRoute], answers: Sequence[AgentAnswer]) -> str:
    """What the models of escalated parts wrote and did not send (strict grounding), each
    headed by its team and part as in the structured merge: the reviewer's, never the
    caller's."""
    return "\n\n".join(
        f'{team(answer.agent)}, on "{route.text}":\n{answer.withheld_draft.strip()}'
        for route, answer in zip(routes, answers, strict=True)
        if answer.outcome == Outcome.ESCALATED and answer.withheld_draft.strip()
    )
