"""Which requests reach a person: the review items the request pipeline opens.

After a request is answered (inside the request ledger, so a repeat never opens a second
item), :meth:`ReviewInbox.observe` opens an item for:

* an ESCALATED result: the agent found nothing relevant (``no_knowledge``), its model's
  answer cited no passage and drew on no tool (``uncited``: the reviewer also sees the
  model's withheld text, ``withheld_draft``), the agent was
  down (``agent_unavailable``), a compound part escalated (``compound_part``), or the answer's
  confidence fell below ``review_min_confidence`` (``low_confidence``: the caller is told a
  person follows up, the reviewer sees the draft);
* a NEEDS_CONFIRMATION result whose pending action a reviewer must approve
  (``approval_required``; the agent's per-tool policy says so);
* a random sample (``review_sample_rate``) of answered requests, for quality review.

Escalations and approvals are promises to the caller, so their items are written before the
answer is given out: if the store cannot take one, the request fails UNAVAILABLE (a retry
with the same request id opens it). Samples are best effort. A retry of an escalated request
that an agent now answers closes the open item (``retry_answered``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import timedelta

from switchboard.core import errors
from switchboard.core.action_ids import action_expiry
from switchboard.core.audit import AuditKind, AuditSink, event, utcnow
from switchboard.core.context import RequestContext
from switchboard.core.types import Approver, Outcome
from switchboard.store import ItemKind, NewItem, ReviewItems, StoreError
from switchboard.supervisor.results import AskResult, ReviewInfo
from switchboard.supervisor.review import outcomes

log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 5.0


class InboxPolicy:
    """When items open and how long they stay open (from the supervisor's settings)."""

    def __init__(
        self,
        *,
        sample_rate: float = 0.0,
        min_confidence: float = 0.0,
        escalation_ttl_s: float = 7 * 86400.0,
        approval_ttl_s: float = 86400.0,
        sample_ttl_s: float = 14 * 86400.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.sample_rate = sample_rate
        self.min_confidence = min_confidence
        self.escalation_ttl_s = escalation_ttl_s
        self.approval_ttl_s = approval_ttl_s
        self.sample_ttl_s = sample_ttl_s
        self._rng = rng

    def sampled(self) -> bool:
        return self.sample_rate > 0 and self._rng() < self.sample_rate


def _reason(result: AskResult) -> str:
    if not result.final:
        return "agent_unavailable"
    if result.parts:
        return "compound_part"
    if result.uncited:
        return "uncited"
    return "no_knowledge"


def _escalated_agent(result: AskResult) -> str:
    for part in result.parts:
        if part.outcome == Outcome.ESCALATED:
            return part.agent
    return result.agent or result.route.agent


class ReviewInbox:
    """Opens review items for the request pipeline."""

    def __init__(self, items: ReviewItems, policy: InboxPolicy, audit: AuditSink) -> None:
        self._items = items
        self.policy = policy
        self._audit = audit

    def _unsure(self, result: AskResult) -> bool:
        return (
            self.policy.min_confidence > 0
            and result.outcome in (Outcome.ANSWERED, Outcome.DEGRADED)
            and not result.parts
            and result.confidence < self.policy.min_confidence
        )

    async def observe(
        self, ctx: RequestContext, text: str, result: AskResult, *, retriable: bool = False
    ) -> AskResult:
        """Opens the item the result calls for (if any); returns the result the caller gets,
        with its review status. ``retriable``: the caller chose the request id (a retry of an
        escalated request may now be answered)."""
        now = utcnow()
        draft = result
        if self._unsure(result):
            # The reviewer sees the draft; the caller hears that a person follows up.
            result = outcomes.unsure_told(result)
        if result.outcome == Outcome.ESCALATED or any(
            p.outcome == Outcome.ESCALATED for p in result.parts
        ):
            kind, agent = ItemKind.ESCALATION, _escalated_agent(result)
            reason = outcomes.UNSURE if draft is not result else _reason(result)
            expires = now + timedelta(seconds=self.policy.escalation_ttl_s)
        elif (
            result.outcome == Outcome.NEEDS_CONFIRMATION
            and result.pending_action is not None
            and result.pending_action.approval is Approver.REVIEWER
        ):
            kind, agent, reason = ItemKind.APPROVAL, result.agent, "approval_required"
            expires = now + timedelta(seconds=self.policy.approval_ttl_s)
            token_expiry = action_expiry(result.pending_action.id)
            if token_expiry is not None:
                expires = min(expires, token_expiry)
        elif result.outcome in (Outcome.ANSWERED, Outcome.DEGRADED):
            if retriable:
                await self._close_retried(ctx, result)
            if not self.policy.sampled():
                return result
            kind, agent, reason = ItemKind.SAMPLE, result.agent, "sampled"
            expires = now + timedelta(seconds=self.policy.sample_ttl_s)
        else:
            return result
        new = NewItem(
            tenant=ctx.tenant,
            request_id=ctx.request_id,
            trace_id=result.trace_id or None,
            agent=agent,
            kind=kind,
            reason=reason,
            question=text,
            customer_id=ctx.customer_id,
            user_id=ctx.user_id,
            draft=outcomes.draft_record(draft),
            expires_at=expires,
        )
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                item = await self._items.add(new)
                if item is None:  # a retry of a request that already has one
                    item = await self._items.by_request(ctx.tenant, ctx.request_id)
        except (StoreError, TimeoutError) as exc:
            if kind is ItemKind.SAMPLE:
                log.warning("sampled answer not queued for review", extra={"error": str(exc)})
                return result
            raise errors.Unavailable(
                "the request could not be handed to a person (the review inbox is "
                "unavailable); retry with the same request_id"
            ) from exc
        if item is None:
            return result
        self._audit.submit(
            event(
                AuditKind.REVIEW,
                request_id=ctx.request_id,
                tenant=ctx.tenant,
                agent=agent,
                outcome="opened",
                detail={"item_id": item.id, "kind": kind.value, "reason": reason},
            )
        )
        if kind is ItemKind.SAMPLE:
            return result  # the caller's answer is unchanged; the review is internal
        return result.model_copy(
            update={
                "review": ReviewInfo(
                    item_id=item.id,
                    kind=item.kind.value,
                    state=item.state.value,
                    reason=item.reason,
                    expires_at=item.expires_at,
                )
            }
        )

    async def _close_retried(self, ctx: RequestContext, result: AskResult) -> None:
        """A retry of an escalated request was answered: its open item is done. (A read
        first: almost every answered request has no item, and a read costs less than a
        write.)"""
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                found = await self._items.by_request(ctx.tenant, ctx.request_id)
                if found is None or found.state.final:
                    return
                closed = await self._items.close_open(
                    ctx.tenant,
                    ctx.request_id,
                    resolution={"action": "retry_answered", "by": "system"},
                    result=result.model_dump(mode="json"),
                )
        except (StoreError, TimeoutError) as exc:
            log.warning("could not close a retried request's item", extra={"error": str(exc)})
            return
        if closed:
            self._audit.submit(
                event(
                    AuditKind.REVIEW,
                    request_id=ctx.request_id,
                    tenant=ctx.tenant,
                    agent=result.agent,
                    outcome="retry_answered",
                )
            )
