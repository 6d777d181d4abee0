"""The Review service's domain side: what a person may see and decide, and the decisions.

Every call names its principal (from the token): a reviewer sees its own tenant's items, an
admin every tenant's; a foreign item reads NOT_FOUND like an unknown one. A decision is one
conditional update of the item (``store.review``): resolving needs the item open, unexpired
and not held by someone else's claim, so two people never both resolve it. Approvals run the
agent's action once (the agent's ``ToolEffects``), on whichever replica, with the approver
and reason kept with the effect. Every decision, and every refusal, is audited with who
asked. Bad input changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.core import errors
from switchboard.core.audit import AuditKind, AuditSink, event, utcnow
from switchboard.core.auth import Principal
from switchboard.core.budget import Budget
from switchboard.core.context import Deadline, RequestContext
from switchboard.core.types import AgentRequest, Approval, Outcome
from switchboard.store import ItemKind, ItemState, ReviewItem, ReviewItems
from switchboard.supervisor.gateway.agents import AgentGateway
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.review import outcomes
from switchboard.supervisor.review.teaching import GAP_REASONS, Teacher

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 8000
MAX_REASON_CHARS = 2000
MIN_LEASE_S, MAX_LEASE_S = 10.0, 3600.0
VERDICTS = ("correct", "wrong", "unhelpful")


@dataclass(frozen=True)
class Resolve:
    """One resolution: ``answer`` (text, agent), ``send_to_agent`` (agent), ``close``
    (reason) or ``verdict`` (verdict, reason as the note)."""

    action: str
    text: str = ""
    agent: str = ""
    reason: str = ""
    verdict: str = ""
    knowledge_gap: bool | None = None


class ReviewDesk:
    def __init__(
        self,
        *,
        items: ReviewItems,
        gateway: AgentGateway,
        teacher: Teacher,
        audit: AuditSink,
        claim_s: float = 900.0,
        agent_timeout_s: float = 20.0,
    ) -> None:
        self.items = items
        self._gateway = gateway
        self._teacher = teacher
        self._audit = audit
        self._claim_s = claim_s
        self._timeout = agent_timeout_s

    # -- seeing ----------------------------------------------------------------------------

    def agents(self) -> list[str]:
        """The agents a request may be sent to."""
        return sorted(self._gateway.names())

    def scope(self, principal: Principal, tenant: str) -> str | None:
        """The tenant a listing covers (None: every tenant); PERMISSION_DENIED for a
        reviewer naming another tenant."""
        if principal.all_tenants:
            return tenant or None
        own = principal.tenant or ""
        if tenant and tenant != own:
            self._refused(principal, "", "", f"asked for tenant {tenant!r}")
            raise errors.PermissionDenied(
                f"a reviewer of tenant {own!r} may only see that tenant's items"
            )
        return own

    async def get(self, principal: Principal, item_id: str) -> ReviewItem:
        """The item, if this principal may see it (NOT_FOUND otherwise); an open item past
        its expiry is marked expired on the way."""
        if not item_id or len(item_id) > 64:
            self._refused(principal, item_id[:64], "", "malformed item id")
            raise errors.InvalidRequest("give the item's id (at most 64 characters)")
        item = await self.items.get(item_id)
        if item is None or not principal.check_tenant(item.tenant):
            self._refused(
                principal, item_id, "", "unknown item" if item is None else "another tenant's"
            )
            raise errors.NotFound(f"no review item {item_id!r}")
        if item.overdue(utcnow()):
            await self.expire_due()
            item = await self.items.get(item_id) or item
        return item

    async def expire_due(self) -> None:
        """Marks open items past their expiry as expired (audited)."""
        for item_id in await self.items.expire_due():
            self._audit.submit(
                event(AuditKind.REVIEW, outcome="expired", detail={"item_id": item_id})
            )

    # -- deciding --------------------------------------------------------------------------

    async def claim(self, principal: Principal, item_id: str, lease_s: float = 0.0) -> ReviewItem:
        if lease_s and not MIN_LEASE_S <= lease_s <= MAX_LEASE_S:
            self._refused(principal, item_id, "", "lease out of range")
            raise errors.InvalidRequest(
                f"lease_seconds must be between {MIN_LEASE_S:.0f} and {MAX_LEASE_S:.0f}"
            )
        item = await self.get(principal, item_id)
        claimed = await self._claim(principal, item, lease_s or self._claim_s)
        self._decided(principal, claimed, "claimed")
        return claimed

    async def resolve(self, principal: Principal, item_id: str, how: Resolve) -> ReviewItem:
        item = await self.get(principal, item_id)
        self._check_resolution(principal, item, how)
        who = principal.actor
        if how.action == "close":
            text = f"{outcomes.CLOSED} Reason: {how.reason}"
            result: AskResult | None = outcomes.closed(AskResult.model_validate(item.draft), text)
            return await self._finish(principal, item, ItemState.CLOSED, how, result)
        if how.action == "verdict":
            return await self._finish(principal, item, ItemState.RESOLVED, how, None)
        if how.action == "answer":
            result = outcomes.human_answer(item, how.text, who)
            done = await self._finish(principal, item, ItemState.RESOLVED, how, result)
            await self._learn(item, how, how.agent or item.agent, how.text)
            return done
        # send_to_agent: the item is held while the agent answers
        self._gateway.check_known(how.agent)
        await self._claim(principal, item, self._claim_s)
        try:
            answer = await self._gateway.invoke(
                how.agent, AgentRequest(text=item.question), self._context(item)
            )
        except errors.SwitchboardError:
            await self.items.release(item.id, who)
            raise
        if answer.outcome not in (Outcome.ANSWERED, Outcome.DEGRADED):
            await self.items.release(item.id, who)
            self._refused(principal, item.id, item.tenant, f"{how.agent} {answer.outcome.value}")
            raise errors.FailedPrecondition(
                f"agent {how.agent!r} could not answer it either ({answer.outcome.value}); "
                "write an answer or close the item"
            )
        result = outcomes.agent_answer(item, answer)
        done = await self._finish(principal, item, ItemState.RESOLVED, how, result)
        await self._learn(item, how, how.agent, answer.text)
        return done

    async def decide(
        self, principal: Principal, item_id: str, *, approve: bool, reason: str
    ) -> ReviewItem:
        item = await self.get(principal, item_id)
        how = Resolve(action="approve" if approve else "reject", reason=reason)
        if item.kind is not ItemKind.APPROVAL:
            self._refused(principal, item.id, item.tenant, "not an approval")
            raise errors.InvalidRequest(
                f"item {item.id} is {item.kind.value!r}, not an approval: use ResolveItem"
            )
        self._check_open(principal, item)
        self._check_reason(principal, item, reason)
        draft = AskResult.model_validate(item.draft)
        if not approve:
            text = f"{outcomes.REJECTED} Reason: {reason}"
            return await self._finish(
                principal, item, ItemState.CLOSED, how, outcomes.closed(draft, text)
            )
        assert draft.pending_action is not None
        await self._claim(principal, item, self._claim_s)
        request = AgentRequest(
            text=item.question,
            confirm_action=draft.pending_action.id,
            approval=Approval(approved_by=principal.actor, reason=reason),
        )
        try:
            answer = await self._gateway.invoke(item.agent, request, self._context(item))
        except errors.SwitchboardError as exc:
            await self.items.release(item.id, principal.actor)
            self._refused(principal, item.id, item.tenant, f"agent: {exc.message[:200]}")
            if isinstance(exc, errors.InvalidRequest):  # e.g. the action id ran out
                raise errors.FailedPrecondition(
                    f"the action could not be carried out: {exc.message}"
                ) from exc
            raise
        result = outcomes.agent_answer(item, answer)
        return await self._finish(principal, item, ItemState.RESOLVED, how, result)

    # -- helpers ---------------------------------------------------------------------------

    def _context(self, item: ReviewItem) -> RequestContext:
        """The original request's tenant and customer: the agent acts for them."""
        return RequestContext(
            request_id=item.request_id,
            tenant=item.tenant,
            budget=Budget(hops=1),
            deadline=Deadline.after(self._timeout),
            customer_id=item.customer_id,
            user_id=item.user_id,
        )

    async def _claim(self, principal: Principal, item: ReviewItem, lease_s: float) -> ReviewItem:
        self._check_open(principal, item)
        claimed = await self.items.claim(item.id, principal.actor, lease_s=lease_s)
        if claimed is None:
            raise self._why_not(principal, await self.items.get(item.id) or item)
        return claimed

    async def _finish(
        self,
        principal: Principal,
        item: ReviewItem,
        state: ItemState,
        how: Resolve,
        result: AskResult | None,
    ) -> ReviewItem:
        gap = self._is_gap(item, how)
        resolution = {
            "action": how.action,
            "by": principal.actor,
            "reason": how.reason,
            "text": how.text,
            "agent": how.agent,
            "verdict": how.verdict,
            "knowledge_gap": gap,
        }
        done = await self.items.finish(
            item.id,
            principal.actor,
            state=state,
            resolution=resolution,
            result=None if result is None else result.model_dump(mode="json"),
            verdict=how.verdict or None,
        )
        if done is None:
            raise self._why_not(principal, await self.items.get(item.id) or item)
        self._decided(principal, done, how.action, reason=how.reason[:500])
        return done

    async def _learn(self, item: ReviewItem, how: Resolve, agent: str, answer: str) -> None:
        await self._teacher.routed(item, agent)
        if self._is_gap(item, how):
            await self._teacher.gap(item, agent, answer)

    @staticmethod
    def _is_gap(item: ReviewItem, how: Resolve) -> bool:
        if item.kind is not ItemKind.ESCALATION or how.action not in ("answer", "send_to_agent"):
            return False
        return how.knowledge_gap if how.knowledge_gap is not None else item.reason in GAP_REASONS

    def _check_resolution(self, principal: Principal, item: ReviewItem, how: Resolve) -> None:
        allowed = {
            ItemKind.ESCALATION: ("answer", "send_to_agent", "close"),
            ItemKind.SAMPLE: ("verdict", "close"),
            ItemKind.APPROVAL: (),
        }[item.kind]
        if how.action not in allowed:
            self._refused(principal, item.id, item.tenant, f"{how.action} on {item.kind.value}")
            hint = "use DecideAction" if item.kind is ItemKind.APPROVAL else ", ".join(allowed)
            raise errors.InvalidRequest(
                f"a {item.kind.value} item cannot be resolved with {how.action!r} ({hint})"
            )
        self._check_open(principal, item)
        problem = ""
        if how.action == "answer" and not 0 < len(how.text.strip()) <= MAX_ANSWER_CHARS:
            problem = f"the answer must be 1 to {MAX_ANSWER_CHARS} characters"
        elif how.action == "send_to_agent" and not how.agent:
            problem = "name the agent to send the request to"
        elif how.action == "verdict" and how.verdict not in VERDICTS:
            problem = f"the verdict must be one of {', '.join(VERDICTS)}"
        elif how.action == "close":
            self._check_reason(principal, item, how.reason)
        if len(how.reason) > MAX_REASON_CHARS:
            problem = f"the note must be at most {MAX_REASON_CHARS} characters"
        if problem:
            self._refused(principal, item.id, item.tenant, problem)
            raise errors.InvalidRequest(problem)

    def _check_reason(self, principal: Principal, item: ReviewItem, reason: str) -> None:
        if not 0 < len(reason.strip()) <= MAX_REASON_CHARS:
            self._refused(principal, item.id, item.tenant, "missing or oversized reason")
            raise errors.InvalidRequest(f"give a reason of 1 to {MAX_REASON_CHARS} characters")

    def _check_open(self, principal: Principal, item: ReviewItem) -> None:
        now = utcnow()
        if item.state is not ItemState.OPEN or item.overdue(now):
            raise self._why_not(principal, item)
        if item.claimed(now) and item.claimed_by != principal.actor:
            raise self._why_not(principal, item)

    def _why_not(self, principal: Principal, item: ReviewItem) -> errors.FailedPrecondition:
        now = utcnow()
        if (item.state is ItemState.OPEN and item.overdue(now)) or item.state is ItemState.EXPIRED:
            why = f"item {item.id} expired at {_iso(item.expires_at)}"
        elif item.state.final:
            why = f"item {item.id} is already {item.state.value} by {item.resolved_by or '-'}"
        elif item.claimed(now):
            assert item.claim_until is not None
            why = f"item {item.id} is claimed by {item.claimed_by} until {_iso(item.claim_until)}"
        else:
            why = f"item {item.id} changed meanwhile; read it again"
        self._refused(principal, item.id, item.tenant, why)
        return errors.FailedPrecondition(why)

    def _decided(self, principal: Principal, item: ReviewItem, action: str, **detail: str) -> None:
        self._audit.submit(
            event(
                AuditKind.REVIEW,
                request_id=item.request_id,
                tenant=item.tenant,
                agent=item.agent,
                outcome=action,
                detail={"item_id": item.id, "by": principal.actor, **detail},
            )
        )

    def _refused(self, principal: Principal, item_id: str, tenant: str, why: str) -> None:
        log.info("review call refused", extra={"item_id": item_id, "why": why})
        self._audit.submit(
            event(
                AuditKind.REVIEW,
                tenant=tenant or (principal.tenant or ""),
                outcome="refused",
                detail={"item_id": item_id, "by": principal.actor, "why": why[:500]},
            )
        )


def _iso(at: datetime) -> str:
    return (at - timedelta(microseconds=at.microsecond)).isoformat()
