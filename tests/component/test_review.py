"""The human loop over real gRPC: escalation -> review item -> a person resolves it -> the
caller's GetResult; reviewer approvals of pending actions (approve and reject, across a
restart of the supervisor and the agents); expiry; tenant isolation; feedback; and bad input
or abuse, each with its status, audited, changing nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from switchboard.agent.config import AgentConfig
from switchboard.core.audit import AuditKind
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import common_pb2, review_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.harness.review import (
    OFF_TOPIC,
    Stack,
    ask,
    bearer,
    get_result,
    review,
    review_stack,
)
from tests.harness.stack import Credentials

Code = grpc.StatusCode
REFUND = "Please refund invoice {} because duplicate-charge"


@pytest.fixture
def start(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
):
    creds = Credentials()

    def go(**settings):
        return review_stack(
            tmp_path,
            embedder=embedder,
            configs=agent_configs,
            cards=agent_cards,
            index=card_index,
            creds=creds,
            **settings,
        )

    return go


async def code_of(work) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await work
    return caught.value.code()


async def escalate(stack: Stack, request_id: str) -> supervisor_pb2.AskResponse:
    reply = await ask(stack, OFF_TOPIC, request_id, agent="support")
    assert reply.status == common_pb2.ESCALATED
    assert reply.review.state == common_pb2.REVIEW_STATE_OPEN
    return reply


async def test_an_escalation_resolved_by_a_person_reaches_the_caller(start) -> None:
    async with start() as stack:
        reply = await escalate(stack, "esc-1")
        item_id = reply.review.item_id
        assert reply.review.reason == "no_knowledge"
        assert (await get_result(stack, "esc-1")).status == common_pb2.ESCALATED

        inbox = await review(stack, "ListItems", review_pb2.ListItemsRequest())
        assert [i.id for i in inbox.items] == [item_id]
        item = inbox.items[0]
        assert item.question == OFF_TOPIC and item.agent == "support"
        assert item.trace_id == reply.trace_id  # (empty here: no tracer is installed)
        assert item.draft.status == common_pb2.ESCALATED

        claimed = await review(stack, "ClaimItem", review_pb2.ClaimItemRequest(id=item_id))
        assert claimed.claimed_by == "acme/rita"
        done = await review(
            stack,
            "ResolveItem",
            review_pb2.ResolveItemRequest(
                id=item_id,
                answer=review_pb2.WrittenAnswer(text="Proof it for 4 hours at room temperature."),
            ),
        )
        assert done.state == common_pb2.REVIEW_STATE_RESOLVED
        assert done.resolution.by == "acme/rita" and done.resolution.knowledge_gap

        result = await get_result(stack, "esc-1")
        assert result.status == common_pb2.ANSWERED
        assert result.answer == "Proof it for 4 hours at room temperature."
        assert (result.answered_by.kind, result.answered_by.name) == ("human", "acme/rita")
        assert result.mode == "human"
        assert result.review.state == common_pb2.REVIEW_STATE_RESOLVED

        # what people resolve teaches: a routing-example candidate and a knowledge gap
        candidates = await stack.db.examples.query(agent="support")
        assert [c.request_id for c in candidates] == ["esc-1"]
        gaps = await review(stack, "ListKnowledgeGaps", review_pb2.ListKnowledgeGapsRequest())
        assert [(g.agent, g.count) for g in gaps.groups] == [("support", 1)]
        resolved = await stack.audit(AuditKind.REVIEW, "answer")
        assert resolved[0].detail["by"] == "acme/rita"


async def test_feedback_round_trip(start) -> None:
    async with start() as stack:
        answered = await ask(
            stack, "Where do I download last month's invoice?", "fb-1", agent="billing"
        )
        assert answered.status in (common_pb2.ANSWERED, common_pb2.DEGRADED)
        async with stack.channel() as channel:
            stub = supervisor_pb2_grpc.SupervisorStub(channel)
            first = await stub.Feedback(
                supervisor_pb2.FeedbackRequest(
                    request_id="fb-1", thumb=supervisor_pb2.THUMB_DOWN, comment="too vague"
                ),
                metadata=bearer(stack.creds.token),
            )
            again = await stub.Feedback(
                supervisor_pb2.FeedbackRequest(request_id="fb-1", score=5),
                metadata=bearer(stack.creds.token),
            )
        assert not first.replaced and again.replaced
        assert first.agent == answered.agent and first.status == answered.status
        stored = await stack.db.feedback.get("acme", "fb-1")
        assert stored is not None and stored.score == 5 and stored.positive
        assert stored.route_method == answered.route.method
        assert stored.prompt_version == answered.prompt_version == f"{answered.agent}@v1"
        assert await stack.audit(AuditKind.AGENT_CALL)  # written in batches
        stats = await review(stack, "GetStats", review_pb2.GetStatsRequest(days=1))
        today = [d for d in stats.days if d.agent == answered.agent]
        assert today and today[0].feedback == 1 and today[0].positive == 1
        assert today[0].calls >= 1
        assert len(await stack.audit(AuditKind.FEEDBACK, "positive")) == 1


async def test_bad_input_and_abuse_get_their_status_are_audited_and_change_nothing(
    start,
) -> None:
    async with start() as stack:
        creds = stack.creds
        item_id = (await escalate(stack, "esc-2")).review.item_id
        resolve = review_pb2.ResolveItemRequest(
            id=item_id, answer=review_pb2.WrittenAnswer(text="An answer.")
        )
        # a caller token on Review; a reviewer token on the Supervisor service
        list_items = review_pb2.ListItemsRequest()
        assert await code_of(review(stack, "ListItems", list_items, token=creds.token)) == (
            Code.PERMISSION_DENIED
        )
        assert await code_of(ask(stack, "hi", "x", token=creds.reviewer_token)) == (
            Code.PERMISSION_DENIED
        )
        # a reviewer of another tenant: the item does not exist for them
        other = creds.other_reviewer_token
        get = review_pb2.GetItemRequest(id=item_id)
        assert await code_of(review(stack, "GetItem", get, token=other)) == Code.NOT_FOUND
        assert await code_of(review(stack, "ResolveItem", resolve, token=other)) == Code.NOT_FOUND
        foreign = review_pb2.ListItemsRequest(tenant="acme")
        assert await code_of(review(stack, "ListItems", foreign, token=other)) == (
            Code.PERMISSION_DENIED
        )
        assert not (await review(stack, "ListItems", list_items, token=other)).items
        # the admin sees every tenant
        every = await review(stack, "ListItems", list_items, token=creds.admin_token)
        assert [i.id for i in every.items] == [item_id]
        # bad resolutions
        empty = review_pb2.ResolveItemRequest(id=item_id, answer=review_pb2.WrittenAnswer())
        assert await code_of(review(stack, "ResolveItem", empty)) == Code.INVALID_ARGUMENT
        close = review_pb2.ResolveItemRequest(id=item_id, close=review_pb2.CloseItem())
        assert await code_of(review(stack, "ResolveItem", close)) == Code.INVALID_ARGUMENT
        nothing = review_pb2.ResolveItemRequest(id=item_id)
        assert await code_of(review(stack, "ResolveItem", nothing)) == Code.INVALID_ARGUMENT
        approve = review_pb2.DecideActionRequest(
            id=item_id, decision=review_pb2.DECISION_APPROVE, reason="ok"
        )
        assert await code_of(review(stack, "DecideAction", approve)) == Code.INVALID_ARGUMENT
        assert (await get_result(stack, "esc-2")).status == common_pb2.ESCALATED  # unchanged

        # someone else's claim; then resolving twice
        await review(
            stack, "ClaimItem", review_pb2.ClaimItemRequest(id=item_id), token=creds.admin_token
        )
        assert await code_of(review(stack, "ResolveItem", resolve)) == Code.FAILED_PRECONDITION
        await review(stack, "ResolveItem", resolve, token=creds.admin_token)
        assert await code_of(review(stack, "ResolveItem", resolve)) == Code.FAILED_PRECONDITION
        again = await code_of(review(stack, "ResolveItem", resolve, token=creds.admin_token))
        assert again == Code.FAILED_PRECONDITION
        final = await get_result(stack, "esc-2")
        assert final.answered_by.name == "ops/ada" and final.answer == "An answer."

        denied = await stack.audit(AuditKind.AUTH_FAILURE)
        assert {r.detail["reason"] for r in denied} == {"role"}
        refused = await stack.audit(AuditKind.REVIEW, "refused")
        assert len(refused) >= 8
        assert {"gus" in str(r.detail.get("by")) for r in refused} == {True, False}


async def test_bad_feedback_gets_its_status_is_audited_and_changes_nothing(start) -> None:
    async with start() as stack:
        creds = stack.creds
        await escalate(stack, "esc-2")
        # feedback: unknown id, another tenant's id, a huge comment, no rating
        async with stack.channel() as channel:
            stub = supervisor_pb2_grpc.SupervisorStub(channel)

            def feedback(token: str, request_id: str = "esc-2", **kw):
                request = supervisor_pb2.FeedbackRequest(request_id=request_id, **kw)
                return stub.Feedback(request, metadata=bearer(token))

            up = supervisor_pb2.THUMB_UP
            assert await code_of(feedback(creds.token, "nope", thumb=up)) == Code.NOT_FOUND
            assert await code_of(feedback(creds.other_token, thumb=up)) == Code.NOT_FOUND
            huge = "x" * 100_000
            assert await code_of(feedback(creds.token, thumb=up, comment=huge)) == (
                Code.INVALID_ARGUMENT
            )
            assert await code_of(feedback(creds.token)) == Code.INVALID_ARGUMENT
            assert await code_of(feedback(creds.token, score=9)) == Code.INVALID_ARGUMENT
        assert await stack.db.feedback.get("acme", "esc-2") is None
        assert await stack.db.feedback.get("globex", "esc-2") is None
        # the other tenant cannot read acme's result either
        assert await code_of(get_result(stack, "esc-2", token=creds.other_token)) == Code.NOT_FOUND

        assert len(await stack.audit(AuditKind.FEEDBACK, "refused")) == 5


async def test_approve_and_reject_pending_actions_across_restarts(start) -> None:
    async with start() as stack:
        approve_me = await ask(stack, REFUND.format("BL-2025-004218"), "refund-a")
        reject_me = await ask(stack, REFUND.format("BL-2025-004217"), "refund-r")
        for reply in (approve_me, reject_me):
            assert reply.status == common_pb2.NEEDS_CONFIRMATION
            assert reply.pending_action.approval == "reviewer"
            assert reply.review.kind == common_pb2.REVIEW_KIND_APPROVAL
        # the caller cannot approve it themselves
        own = ask(stack, "yes", "confirm-a", confirm_action=approve_me.pending_action.id)
        assert await code_of(own) == Code.FAILED_PRECONDITION

    async with start() as stack:  # the supervisor and the agents were restarted
        approved = await review(
            stack,
            "DecideAction",
            review_pb2.DecideActionRequest(
                id=approve_me.review.item_id,
                decision=review_pb2.DECISION_APPROVE,
                reason="duplicate charge confirmed with the bank",
            ),
        )
        assert approved.state == common_pb2.REVIEW_STATE_RESOLVED
        rejected = await review(
            stack,
            "DecideAction",
            review_pb2.DecideActionRequest(
                id=reject_me.review.item_id,
                decision=review_pb2.DECISION_REJECT,
                reason="renewal was used",
            ),
        )
        assert rejected.state == common_pb2.REVIEW_STATE_CLOSED

    async with start() as stack:
        done = await get_result(stack, "refund-a")
        assert done.status == common_pb2.ANSWERED and "refund request" in done.answer
        assert done.review.decided_by == "acme/rita"
        closed = await get_result(stack, "refund-r")
        assert closed.status == common_pb2.CLOSED and "renewal was used" in closed.answer
        assert closed.review.note == "renewal was used"
        # approving again changes nothing
        again = review_pb2.DecideActionRequest(
            id=approve_me.review.item_id, decision=review_pb2.DECISION_APPROVE, reason="again"
        )
        assert await code_of(review(stack, "DecideAction", again)) == Code.FAILED_PRECONDITION
        # the refund ran once, with its approver; the rejected one never ran
        actions = await stack.db.audit.query(kind=AuditKind.TOOL_CALL, limit=100)
        executed = [a for a in actions if a.outcome == "executed"]
        assert len(executed) == 1
        assert executed[0].detail["approved_by"] == "acme/rita"
        assert executed[0].detail["approval_reason"] == "duplicate charge confirmed with the bank"


async def test_an_approval_nobody_decides_expires(start) -> None:
    async with start(review_approval_ttl_s=1.0) as stack:
        reply = await ask(stack, REFUND.format("BL-2025-004218"), "refund-x")
        assert reply.review.state == common_pb2.REVIEW_STATE_OPEN
        await asyncio.sleep(1.2)
        result = await get_result(stack, "refund-x")
        assert result.status == common_pb2.CLOSED
        assert result.review.state == common_pb2.REVIEW_STATE_EXPIRED
        decide = review_pb2.DecideActionRequest(
            id=reply.review.item_id, decision=review_pb2.DECISION_APPROVE, reason="late"
        )
        assert await code_of(review(stack, "DecideAction", decide)) == Code.FAILED_PRECONDITION
        item = await review(stack, "GetItem", review_pb2.GetItemRequest(id=reply.review.item_id))
        assert item.state == common_pb2.REVIEW_STATE_EXPIRED
        assert await stack.audit(AuditKind.REVIEW, "expired")
        assert not [
            a
            for a in await stack.db.audit.query(kind=AuditKind.TOOL_CALL, limit=100)
            if a.outcome == "executed"
        ]
