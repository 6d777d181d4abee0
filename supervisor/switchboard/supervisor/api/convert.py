"""Domain results to ``switchboard.v1`` messages, for the supervisor's servicer."""

from __future__ import annotations

from switchboard.core.types import AnswerPart
from switchboard.core.wire import (
    citation_to_proto,
    pending_to_proto,
    status_to_proto,
    usage_to_proto,
)
from switchboard.supervisor.results import AskResult, RouteSummary
from switchboard.supervisor.routing.router import RouteResult
from switchboard.v1 import supervisor_pb2


def decision_to_proto(d: RouteSummary | RouteResult) -> supervisor_pb2.RouteDecision:
    summary = d if isinstance(d, RouteSummary) else RouteSummary.of(d)
    return supervisor_pb2.RouteDecision(
        agent=summary.agent,
        confidence=summary.confidence,
        method=summary.method,
        candidates=[
            supervisor_pb2.RouteCandidate(agent=c.agent, score=c.score) for c in summary.candidates
        ],
        reason=summary.reason,
        blocked=summary.blocked,
        block_reason=summary.block_reason,
        parts=[
            supervisor_pb2.SubRoute(text=p.text, agent=p.agent, confidence=p.confidence)
            for p in summary.parts
        ],
    )


def part_to_proto(p: AnswerPart) -> supervisor_pb2.AnswerPart:
    return supervisor_pb2.AnswerPart(
        text=p.text,
        agent=p.agent,
        answer=p.answer,
        status=status_to_proto(p.outcome),
        citations=[citation_to_proto(c) for c in p.citations],
        confidence=p.confidence,
        mode=p.mode.value,
        uncited=p.uncited,
    )


def result_to_proto(result: AskResult) -> supervisor_pb2.AskResponse:
    route = decision_to_proto(result.route)
    return supervisor_pb2.AskResponse(
        request_id=result.request_id,
        answer=result.answer,
        agent=result.agent,
        citations=[citation_to_proto(c) for c in result.citations],
        confidence=result.confidence,
        usage=usage_to_proto(result.usage),
        trace_id=result.trace_id,
        status=status_to_proto(result.outcome),
        candidates=route.candidates,
        mode=result.mode.value,
        route=route,
        pending_action=pending_to_proto(result.pending_action),
        parts=[part_to_proto(p) for p in result.parts],
        uncited=result.uncited,
    )
