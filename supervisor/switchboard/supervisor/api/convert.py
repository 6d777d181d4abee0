"""Domain results to ``switchboard.v1`` messages, for the supervisor's servicer."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from switchboard.core.conversation import ConversationState
from switchboard.core.types import AnswerPart, Outcome
from switchboard.core.wire import (
    citation_to_proto,
    pending_to_proto,
    status_to_proto,
    usage_to_proto,
)
from switchboard.supervisor.results import AnsweredBy, AskResult, ReviewInfo, RouteSummary
from switchboard.supervisor.routing.router import RouteResult
from switchboard.v1 import common_pb2, supervisor_pb2

REVIEW_KINDS = {
    "escalation": common_pb2.REVIEW_KIND_ESCALATION,
    "approval": common_pb2.REVIEW_KIND_APPROVAL,
    "sample": common_pb2.REVIEW_KIND_SAMPLE,
}
REVIEW_STATES = {
    "open": common_pb2.REVIEW_STATE_OPEN,
    "resolved": common_pb2.REVIEW_STATE_RESOLVED,
    "closed": common_pb2.REVIEW_STATE_CLOSED,
    "expired": common_pb2.REVIEW_STATE_EXPIRED,
}
_ANSWERING = (Outcome.ANSWERED, Outcome.DEGRADED, Outcome.NEEDS_CONFIRMATION)


def timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def answered_by(result: AskResult) -> AnsweredBy:
    """Who produced the answer (an agent that answered, when nothing else is said)."""
    if result.answered_by is not None:
        return result.answered_by
    if result.agent and result.outcome in _ANSWERING:
        return AnsweredBy(kind="agent", name=result.agent)
    return AnsweredBy()


def review_to_proto(info: ReviewInfo | None) -> supervisor_pb2.ReviewStatus | None:
    if info is None:
        return None
    return supervisor_pb2.ReviewStatus(
        item_id=info.item_id,
        kind=REVIEW_KINDS.get(info.kind, common_pb2.REVIEW_KIND_UNSPECIFIED),
        state=REVIEW_STATES.get(info.state, common_pb2.REVIEW_STATE_UNSPECIFIED),
        reason=info.reason,
        decided_by=info.decided_by,
        note=info.note,
        expires_at=timestamp(info.expires_at),
    )


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
        prompt_version=p.prompt_version,
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
        answered_by=supervisor_pb2.AnsweredBy(**answered_by(result).model_dump()),
        review=review_to_proto(result.review),
        prompt_version=result.prompt_version,
        conversation=conversation_to_proto(result.conversation),
    )


def conversation_to_proto(
    state: ConversationState | None,
) -> supervisor_pb2.ConversationState | None:
    if state is None:
        return None
    return supervisor_pb2.ConversationState(
        state=state.status.value, turns=state.turns, note=state.note
    )
