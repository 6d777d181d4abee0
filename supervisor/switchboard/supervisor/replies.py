"""The supervisor's own replies, for requests no agent answers: refused, escalated because
an agent is down, and unrouted (ask the user to clarify, or out of scope)."""

from __future__ import annotations

from collections.abc import Sequence

from switchboard.core.embeddings import Vector
from switchboard.core.types import Outcome, UsageReport
from switchboard.supervisor.results import AskResult, RouteSummary
from switchboard.supervisor.routing.language import english_only_message
from switchboard.supervisor.routing.router import Method, RouteResult
from switchboard.supervisor.screening import Screening

REFUSAL_MESSAGE = (
    "I can't help with that request: it looks like an attempt to override how this assistant "
    "works. If this is a genuine question, please rephrase it."
)
UNAVAILABLE_MESSAGE = (
    "The {agent} team's assistant is unavailable right now, so I've passed your request to a "
    "person, who will follow up."
)


def blocked_route(screening: Screening, query: Vector | None) -> RouteResult:
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


def refused(request_id: str, screening: Screening, query: Vector | None) -> AskResult:
    return AskResult(
        request_id=request_id,
        outcome=Outcome.REFUSED,
        answer=REFUSAL_MESSAGE,
        confidence=screening.score,
        route=RouteSummary.of(blocked_route(screening, query)),
    )


def escalated_unavailable(request_id: str, decision: RouteResult, usage: UsageReport) -> AskResult:
    """The chosen agent is down: a person follows up. Not final: a retry of the same request
    id after the agent recovers is answered afresh."""
    return AskResult(
        request_id=request_id,
        outcome=Outcome.ESCALATED,
        answer=UNAVAILABLE_MESSAGE.format(agent=decision.agent or ""),
        route=RouteSummary.of(decision),
        usage=usage,
        final=False,
    )


def unrouted(
    request_id: str, decision: RouteResult, usage: UsageReport, known_agents: Sequence[str]
) -> AskResult:
    """No agent was chosen: out of scope, too close to call, or not English offline."""
    if decision.method == Method.UNSUPPORTED_LANGUAGE:
        answer = english_only_message(decision.language)
    elif decision.method == Method.OUT_OF_SCOPE:
        answer = (
            "Sorry, that is outside what I can help with. I can answer questions about "
            f"{', '.join(sorted(known_agents))}. Could you rephrase your request?"
        )
    else:
        names = [c.agent for c in decision.candidates]
        who = " or ".join(names) if names else "one of our teams"
        answer = (
            f"I'm not sure whether this is a question for {who}. "
            "Could you add a little detail about what you need?"
        )
    return AskResult(
        request_id=request_id,
        outcome=Outcome.NEEDS_CLARIFICATION,
        answer=answer,
        confidence=decision.confidence,
        route=RouteSummary.of(decision),
        usage=usage,
    )
