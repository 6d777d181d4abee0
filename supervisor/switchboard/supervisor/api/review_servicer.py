"""gRPC face of the Review service: proto in, one call to the review desk, proto out."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import grpc

from switchboard.core import errors
from switchboard.core.audit import utcnow
from switchboard.core.auth import ANONYMOUS, Principal, current_principal
from switchboard.core.grpc_errors import grpc_method
from switchboard.store import (
    AuditLog,
    FeedbackLog,
    ItemKind,
    ItemState,
    KnowledgeGaps,
    PromptRegistry,
    ReviewItem,
)
from switchboard.supervisor.api.convert import (
    REVIEW_KINDS,
    REVIEW_STATES,
    result_to_proto,
    timestamp,
)
from switchboard.supervisor.api.prompt_servicer import PromptPages
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.review import reports
from switchboard.supervisor.review.desk import Resolve, ReviewDesk
from switchboard.supervisor.review.outcomes import result_of
from switchboard.v1 import common_pb2, review_pb2

Context = grpc.aio.ServicerContext[Any, Any]

_KIND_OF = {v: ItemKind(k) for k, v in REVIEW_KINDS.items()}
_STATE_OF = {v: ItemState(k) for k, v in REVIEW_STATES.items()}
_VERDICTS = {
    review_pb2.VERDICT_LABEL_CORRECT: "correct",
    review_pb2.VERDICT_LABEL_WRONG: "wrong",
    review_pb2.VERDICT_LABEL_UNHELPFUL: "unhelpful",
}
DEFAULT_PAGE, MAX_PAGE = 50, 200
DEFAULT_DAYS, MAX_DAYS = 14, 90


def _principal() -> Principal:
    return current_principal() or ANONYMOUS


def item_to_proto(item: ReviewItem) -> review_pb2.ReviewItem:
    now = utcnow()
    resolution = item.resolution or {}
    current = result_of(item, now)
    return review_pb2.ReviewItem(
        id=item.id,
        tenant=item.tenant,
        request_id=item.request_id,
        trace_id=item.trace_id or "",
        agent=item.agent,
        kind=REVIEW_KINDS[item.kind.value],
        reason=item.reason,
        question=item.question,
        draft=result_to_proto(AskResult.model_validate(item.draft)),
        withheld_draft=str(item.draft.get("withheld_draft", "")),
        state=REVIEW_STATES[current.review.state if current.review else item.state.value],
        claimed_by=(item.claimed_by or "") if item.claimed(now) else "",
        created_at=timestamp(item.created_at),
        claimed_at=timestamp(item.claimed_at),
        claim_until=timestamp(item.claim_until if item.claimed(now) else None),
        resolved_at=timestamp(item.resolved_at),
        expires_at=timestamp(item.expires_at),
        resolution=review_pb2.Resolution(
            action=str(resolution.get("action", "")),
            by=str(resolution.get("by", "")),
            reason=str(resolution.get("reason", "")),
            text=str(resolution.get("text", "")),
            agent=str(resolution.get("agent", "")),
            verdict=str(resolution.get("verdict", "")),
            knowledge_gap=bool(resolution.get("knowledge_gap", False)),
        )
        if resolution
        else None,
        result=result_to_proto(current),
        customer_id=item.customer_id,
    )


def _page_token(item: ReviewItem) -> str:
    raw = f"{item.created_at.isoformat()}|{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _after(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        at, _, last = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return datetime.fromisoformat(at), last
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.InvalidRequest("page_token is not one this service gave out") from None


class ReviewServicer(PromptPages):
    def __init__(
        self,
        desk: ReviewDesk,
        *,
        gaps: KnowledgeGaps,
        feedback: FeedbackLog,
        audit: AuditLog,
        prompts: PromptRegistry,
    ) -> None:
        self._desk = desk
        self._prompts = prompts
        self._gaps = gaps
        self._feedback = feedback
        self._audit = audit

    @grpc_method
    async def ListItems(  # noqa: N802 - gRPC method name
        self, request: review_pb2.ListItemsRequest, context: Context
    ) -> review_pb2.ListItemsResponse:
        principal = _principal()
        tenant = self._desk.scope(principal, request.tenant)
        if not 0 <= request.page_size <= MAX_PAGE:
            raise errors.InvalidRequest(f"page_size must be between 0 and {MAX_PAGE}")
        size = request.page_size or DEFAULT_PAGE
        await self._desk.expire_due()
        items = await self._desk.items.query(
            tenant=tenant,
            agent=request.agent or None,
            kind=_KIND_OF.get(request.kind),
            state=_STATE_OF.get(request.state),
            after=_after(request.page_token),
            limit=size + 1,
        )
        counts = await self._desk.items.counts(tenant=tenant)
        return review_pb2.ListItemsResponse(
            items=[item_to_proto(i) for i in items[:size]],
            next_page_token=_page_token(items[size - 1]) if len(items) > size else "",
            counts=[
                review_pb2.ItemCount(
                    kind=REVIEW_KINDS.get(kind, common_pb2.REVIEW_KIND_UNSPECIFIED),
                    state=REVIEW_STATES.get(state, common_pb2.REVIEW_STATE_UNSPECIFIED),
                    count=n,
                )
                for (kind, state), n in sorted(counts.items())
            ],
        )

    @grpc_method
    async def GetItem(  # noqa: N802 - gRPC method name
        self, request: review_pb2.GetItemRequest, context: Context
    ) -> review_pb2.ReviewItem:
        return item_to_proto(await self._desk.get(_principal(), request.id))

    @grpc_method
    async def ClaimItem(  # noqa: N802 - gRPC method name
        self, request: review_pb2.ClaimItemRequest, context: Context
    ) -> review_pb2.ReviewItem:
        return item_to_proto(
            await self._desk.claim(_principal(), request.id, request.lease_seconds)
        )

    @grpc_method
    async def ResolveItem(  # noqa: N802 - gRPC method name
        self, request: review_pb2.ResolveItemRequest, context: Context
    ) -> review_pb2.ReviewItem:
        which = request.WhichOneof("resolution")
        gap = request.knowledge_gap if request.HasField("knowledge_gap") else None
        if which == "answer":
            how = Resolve("answer", text=request.answer.text, agent=request.answer.agent)
        elif which == "send_to_agent":
            how = Resolve("send_to_agent", agent=request.send_to_agent.agent)
        elif which == "close":
            how = Resolve("close", reason=request.close.reason)
        elif which == "verdict":
            how = Resolve(
                "verdict",
                verdict=_VERDICTS.get(request.verdict.label, ""),
                reason=request.verdict.note,
            )
        else:
            raise errors.InvalidRequest(
                "give one resolution: answer, send_to_agent, close or verdict"
            )
        how = Resolve(**{**how.__dict__, "knowledge_gap": gap})
        return item_to_proto(await self._desk.resolve(_principal(), request.id, how))

    @grpc_method
    async def DecideAction(  # noqa: N802 - gRPC method name
        self, request: review_pb2.DecideActionRequest, context: Context
    ) -> review_pb2.ReviewItem:
        if request.decision not in (review_pb2.DECISION_APPROVE, review_pb2.DECISION_REJECT):
            raise errors.InvalidRequest("decision must be DECISION_APPROVE or DECISION_REJECT")
        return item_to_proto(
            await self._desk.decide(
                _principal(),
                request.id,
                approve=request.decision == review_pb2.DECISION_APPROVE,
                reason=request.reason,
            )
        )

    @grpc_method
    async def ListKnowledgeGaps(  # noqa: N802 - gRPC method name
        self, request: review_pb2.ListKnowledgeGapsRequest, context: Context
    ) -> review_pb2.ListKnowledgeGapsResponse:
        tenant = self._desk.scope(_principal(), request.tenant)
        if not 0 <= request.days <= 365:
            raise errors.InvalidRequest("days must be between 0 and 365")
        gaps = await self._gaps.query(
            tenant=tenant, agent=request.agent or None, days=request.days or 30
        )
        return review_pb2.ListKnowledgeGapsResponse(
            groups=[
                review_pb2.GapGroup(
                    agent=g.agent,
                    count=g.count,
                    representative=g.representative,
                    questions=g.questions,
                    answer=g.answer,
                    last_seen=timestamp(g.last_seen),
                )
                for g in reports.group_gaps(gaps)
            ]
        )

    @grpc_method
    async def GetStats(  # noqa: N802 - gRPC method name
        self, request: review_pb2.GetStatsRequest, context: Context
    ) -> review_pb2.GetStatsResponse:
        tenant = self._desk.scope(_principal(), request.tenant)
        if not 0 <= request.days <= MAX_DAYS:
            raise errors.InvalidRequest(f"days must be between 0 and {MAX_DAYS}")
        days = await reports.agent_days(
            self._feedback, self._audit, days=request.days or DEFAULT_DAYS, tenant=tenant
        )
        return review_pb2.GetStatsResponse(
            days=[
                review_pb2.AgentDay(
                    day=d.day.isoformat(),
                    agent=d.agent,
                    feedback=d.feedback,
                    positive=d.positive,
                    calls=d.calls,
                    cost_usd=d.cost_usd,
                )
                for d in days
            ]
        )

    @grpc_method
    async def WhoAmI(  # noqa: N802 - gRPC method name
        self, request: review_pb2.WhoAmIRequest, context: Context
    ) -> review_pb2.WhoAmIResponse:
        principal = _principal()
        return review_pb2.WhoAmIResponse(
            tenant=principal.tenant or "",
            role=principal.role.value if principal.tenant else "admin",
            actor=principal.actor,
            all_tenants=principal.all_tenants,
            agents=self._desk.agents(),
        )
