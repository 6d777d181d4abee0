"""Conversions between domain types and the switchboard.v1 protobuf messages."""

from __future__ import annotations

from switchboard.core.types import (
    AgentCard,
    AgentUsage,
    Citation,
    Outcome,
    PendingAction,
    UsageReport,
)
from switchboard.v1 import common_pb2

_STATUS = {
    Outcome.ANSWERED: common_pb2.ANSWERED,
    Outcome.NEEDS_CLARIFICATION: common_pb2.NEEDS_CLARIFICATION,
    Outcome.ESCALATED: common_pb2.ESCALATED,
    Outcome.DEGRADED: common_pb2.DEGRADED,
    Outcome.REFUSED: common_pb2.REFUSED,
    Outcome.NEEDS_CONFIRMATION: common_pb2.NEEDS_CONFIRMATION,
}
_OUTCOME = {v: k for k, v in _STATUS.items()}


def status_to_proto(outcome: Outcome) -> common_pb2.Status:
    return _STATUS[outcome]


def status_from_proto(status: common_pb2.Status) -> Outcome:
    return _OUTCOME.get(status, Outcome.ESCALATED)


def citation_to_proto(c: Citation) -> common_pb2.Citation:
    return common_pb2.Citation(
        source_id=c.source_id, title=c.title, snippet=c.snippet, score=c.score
    )


def citation_from_proto(c: common_pb2.Citation) -> Citation:
    return Citation(source_id=c.source_id, title=c.title, snippet=c.snippet, score=c.score)


def usage_to_proto(u: UsageReport) -> common_pb2.Usage:
    return common_pb2.Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cost_usd=u.cost_usd,
        breakdown=[
            common_pb2.AgentUsage(
                agent=a.agent,
                model=a.model,
                input_tokens=a.input_tokens,
                output_tokens=a.output_tokens,
                cost_usd=a.cost_usd,
            )
            for a in u.breakdown
        ],
    )


def usage_from_proto(u: common_pb2.Usage) -> UsageReport:
    return UsageReport(
        breakdown=[
            AgentUsage(
                agent=a.agent,
                model=a.model,
                input_tokens=a.input_tokens,
                output_tokens=a.output_tokens,
                cost_usd=a.cost_usd,
            )
            for a in u.breakdown
        ]
    )


def card_to_proto(card: AgentCard) -> common_pb2.AgentCard:
    return common_pb2.AgentCard(
        name=card.name,
        description=card.description,
        examples=card.examples,
        topics=card.topics,
        keywords=card.keywords,
    )


def card_from_proto(card: common_pb2.AgentCard) -> AgentCard:
    return AgentCard(
        name=card.name,
        description=card.description,
        examples=list(card.examples),
        topics=list(card.topics),
        keywords=list(card.keywords),
    )


def pending_to_proto(p: PendingAction | None) -> common_pb2.PendingAction | None:
    if p is None:
        return None
    return common_pb2.PendingAction(
        id=p.id, tool=p.tool, summary=p.summary, arguments_json=p.arguments_json
    )


def pending_from_proto(m: common_pb2.PendingAction) -> PendingAction | None:
    if not m.id:
        return None
    return PendingAction(id=m.id, tool=m.tool, summary=m.summary, arguments_json=m.arguments_json)
