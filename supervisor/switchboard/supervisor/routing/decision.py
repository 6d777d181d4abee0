"""Picks the route of one request: compound split, then the session's agent, then the router.

Kept apart from the request pipeline so the order of the cascade is stated once, and every
decision gets one ``route`` span with the same attributes however it was made.
"""

from __future__ import annotations

from collections.abc import Mapping

from switchboard.core.context import Deadline
from switchboard.core.embeddings import Vector
from switchboard.core.pricing import ModelPrice, estimate_cost
from switchboard.core.telemetry import tracer
from switchboard.core.types import AgentUsage, UsageReport
from switchboard.supervisor.compound.planner import CompoundPlanner
from switchboard.supervisor.routing.language import LanguagePolicy
from switchboard.supervisor.routing.router import Router, RouteResult
from switchboard.supervisor.routing.sessions import Conversation, SessionMemory


class RouteDecider:
    def __init__(
        self,
        router: Router,
        planner: CompoundPlanner,
        sessions: SessionMemory | None = None,
        languages: LanguagePolicy | None = None,
    ) -> None:
        """``languages``: requests not in English skip the English-only steps (None: off)."""
        self.router = router
        self._planner = planner
        self._sessions = sessions
        self._languages = languages

    async def decide(
        self,
        text: str,
        query: Vector,
        deadline: Deadline,
        *,
        compound: bool = True,
        conversation: Conversation | None = None,
    ) -> RouteResult:
        timeout = deadline.remaining()
        with tracer().start_as_current_span("route") as span:
            decision = None
            if self._languages is not None:
                guess = self._languages.detect(text)
                if not guess.english:
                    decision = await self._languages.route(text, query, guess, deadline)
            if decision is None and compound:
                decision = await self._planner.plan(text, query)
            if decision is None and conversation is not None and self._sessions is not None:
                decision = await self._sessions.route(
                    self.router, text, query, conversation, timeout=timeout
                )
            if decision is None:
                decision = await self.router.route(text, timeout=timeout, query=query)
            span.set_attributes(
                {
                    "switchboard.route.method": decision.method,
                    "switchboard.route.agent": decision.agent or "",
                    "switchboard.route.confidence": decision.confidence,
                    "switchboard.route.candidates": [
                        f"{c.agent}:{c.score:.3f}" for c in decision.candidates
                    ],
                    "switchboard.route.top_similarity": decision.top_similarity,
                    "switchboard.route.language": decision.language or "en",
                    "switchboard.route.parts": [
                        f"{p.agent}:{p.confidence:.3f}" for p in decision.parts
                    ],
                }
            )
            return decision


def routing_usage(decision: RouteResult, prices: Mapping[str, ModelPrice]) -> UsageReport:
    """What Claude's routing call (if any) cost, as the supervisor's usage line."""
    if decision.llm_usage is None:
        return UsageReport()
    cost = estimate_cost(decision.llm_model, decision.llm_usage, dict(prices))
    return UsageReport(
        breakdown=[
            AgentUsage.from_tokens("supervisor", decision.llm_model, decision.llm_usage, cost)
        ]
    )
