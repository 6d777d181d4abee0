"""Conversions between domain types and the switchboard.v1 protobuf messages."""

from __future__ import annotations

from switchboard.core.context import RequestContext
from switchboard.core.conversation import ConversationTurn, ConversationWindow, HandoffBrief
from switchboard.core.types import (
    AgentAnswer,
    AgentCard,
    AgentRequest,
    AgentUsage,
    AnswerMode,
    Approval,
    Approver,
    Citation,
    Outcome,
    PendingAction,
    Screening,
    UsageReport,
)
from switchboard.v1 import agent_pb2, common_pb2

_STATUS = {
    Outcome.ANSWERED: common_pb2.ANSWERED,
    Outcome.NEEDS_CLARIFICATION: common_pb2.NEEDS_CLARIFICATION,
    Outcome.ESCALATED: common_pb2.ESCALATED,
    Outcome.DEGRADED: common_pb2.DEGRADED,
    Outcome.REFUSED: common_pb2.REFUSED,
    Outcome.NEEDS_CONFIRMATION: common_pb2.NEEDS_CONFIRMATION,
    Outcome.CLOSED: common_pb2.CLOSED,
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
        id=p.id,
        tool=p.tool,
        summary=p.summary,
        arguments_json=p.arguments_json,
        approval=p.approval.value,
    )


def pending_from_proto(m: common_pb2.PendingAction) -> PendingAction | None:
    if not m.id:
        return None
    approval = Approver.REVIEWER if m.approval == Approver.REVIEWER.value else Approver.CALLER
    return PendingAction(
        id=m.id,
        tool=m.tool,
        summary=m.summary,
        arguments_json=m.arguments_json,
        approval=approval,
    )


_SCREENING = {
    Screening.UNSCREENED: agent_pb2.SCREENING_UNSPECIFIED,
    Screening.CLEAN: agent_pb2.SCREENING_CLEAN,
    Screening.SUSPICIOUS: agent_pb2.SCREENING_SUSPICIOUS,
}
_SCREENING_BACK = {v: k for k, v in _SCREENING.items()}


def invoke_request_to_proto(request: AgentRequest, ctx: RequestContext) -> agent_pb2.InvokeRequest:
    """The supervisor's call to an agent: the request plus who asks (budget and deadline
    travel as gRPC metadata and the call's deadline)."""
    return agent_pb2.InvokeRequest(
        request_id=ctx.request_id,
        session_id=ctx.session_id,
        text=request.text,
        metadata=request.metadata,
        query_embedding=request.query_embedding or [],
        confirm_action=request.confirm_action,
        tenant=ctx.tenant,
        customer_id=ctx.customer_id,
        user_id=ctx.user_id,
        screening=_SCREENING[request.screening],
        approval=(
            agent_pb2.Approval(
                approved_by=request.approval.approved_by, reason=request.approval.reason
            )
            if request.approval is not None
            else None
        ),
        conversation=window_to_proto(request.conversation),
        handoff=brief_to_proto(request.handoff),
        recalled_memories=request.memories,
    )


def invoke_request_from_proto(message: agent_pb2.InvokeRequest) -> AgentRequest:
    return AgentRequest(
        text=message.text,
        metadata=dict(message.metadata),
        query_embedding=list(message.query_embedding) or None,
        confirm_action=message.confirm_action,
        screening=_SCREENING_BACK.get(message.screening, Screening.UNSCREENED),
        approval=(
            Approval(approved_by=message.approval.approved_by, reason=message.approval.reason)
            if message.HasField("approval") and message.approval.approved_by
            else None
        ),
        conversation=window_from_proto(message.conversation)
        if message.HasField("conversation")
        else None,
        handoff=brief_from_proto(message.handoff) if message.HasField("handoff") else None,
        memories=list(message.recalled_memories),
    )


def answer_to_proto(answer: AgentAnswer) -> agent_pb2.InvokeResponse:
    return agent_pb2.InvokeResponse(
        answer=answer.text,
        citations=[citation_to_proto(c) for c in answer.citations],
        confidence=answer.confidence,
        usage=usage_to_proto(answer.usage),
        status=status_to_proto(answer.outcome),
        mode=answer.mode.value,
        agent=answer.agent,
        pending_action=pending_to_proto(answer.pending_action),
        uncited=answer.uncited,
        prompt_version=answer.prompt_version,
        withheld_draft=answer.withheld_draft,
    )


def answer_from_proto(reply: agent_pb2.InvokeResponse, agent: str) -> AgentAnswer:
    return AgentAnswer(
        agent=reply.agent or agent,
        text=reply.answer,
        outcome=status_from_proto(reply.status),
        mode=mode_from_wire(reply.mode),
        confidence=reply.confidence,
        citations=[citation_from_proto(c) for c in reply.citations],
        usage=usage_from_proto(reply.usage),
        pending_action=pending_from_proto(reply.pending_action),
        uncited=reply.uncited,
        prompt_version=reply.prompt_version[:128],
        withheld_draft=reply.withheld_draft,
    )


def mode_from_wire(mode: str) -> AnswerMode:
    return AnswerMode(mode) if mode in AnswerMode._value2member_map_ else AnswerMode.NONE


def window_to_proto(w: ConversationWindow | None) -> agent_pb2.ConversationWindow | None:
    if w is None or w.empty:
        return None
    return agent_pb2.ConversationWindow(
        summary=w.summary,
        turns=[
            agent_pb2.ConversationTurn(
                user=t.user, answer=t.answer, agent=t.agent, sources=t.sources
            )
            for t in w.turns
        ],
        turns_total=w.turns_total,
    )


def window_from_proto(m: agent_pb2.ConversationWindow) -> ConversationWindow:
    return ConversationWindow(
        summary=m.summary,
        turns=[
            ConversationTurn(user=t.user, answer=t.answer, agent=t.agent, sources=list(t.sources))
            for t in m.turns
        ],
        turns_total=m.turns_total,
    )


def brief_to_proto(b: HandoffBrief | None) -> agent_pb2.HandoffBrief | None:
    if b is None:
        return None
    return agent_pb2.HandoffBrief(
        from_agent=b.from_agent,
        customer_wants=b.customer_wants,
        facts=b.facts,
        pending_actions=b.pending_actions,
        turns=b.turns,
    )


def brief_from_proto(m: agent_pb2.HandoffBrief) -> HandoffBrief:
    return HandoffBrief(
        from_agent=m.from_agent,
        customer_wants=m.customer_wants,
        facts=list(m.facts),
        pending_actions=list(m.pending_actions),
        turns=m.turns,
    )
