"""The caller's side of the human loop: ``GetResult`` and ``Feedback`` (no gRPC here).

``GetResult`` is the one place that reads a request's current answer: its review item's
(``outcomes.result_of``: a person's answer, an approved action's result, CLOSED when
rejected or expired), else the request ledger's stored result. Feedback is joined, when
given, to the request's agent, route method and status, read from the same two places or,
for a request neither keeps, from its audit rows; a request the tenant never sent is
NOT_FOUND, whoever else sent it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from switchboard.core import errors
from switchboard.core.audit import AuditKind, AuditSink, event, utcnow
from switchboard.core.context import RequestContext
from switchboard.core.textcheck import validate_request_id
from switchboard.store import AuditLog, FeedbackLog, IdempotencyStore, ReviewItems, StoreError
from switchboard.store.feedback import MAX_COMMENT_CHARS
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.review.outcomes import result_of

log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Rating:
    """A thumb (+1 / -1) or a score (1-5), and an optional comment."""

    thumb: int | None = None
    score: int | None = None
    comment: str = ""


@dataclass(frozen=True)
class Recorded:
    request_id: str
    replaced: bool
    agent: str
    status: str


@dataclass(frozen=True)
class _Joined:
    agent: str
    method: str
    status: str
    prompt_version: str = ""  # of the agent's answer (docs/prompts.md)


class CallerResults:
    def __init__(
        self,
        *,
        items: ReviewItems,
        ledger: IdempotencyStore,
        feedback: FeedbackLog,
        audit_log: AuditLog,
        audit: AuditSink,
    ) -> None:
        self._items = items
        self._ledger = ledger
        self._feedback = feedback
        self._audit_log = audit_log
        self._audit = audit

    async def result(self, ctx: RequestContext, request_id: str) -> AskResult:
        """The current answer to one of the caller's requests."""
        request_id = self._request_id(ctx, request_id, "get_result")
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                found = await self._current(ctx.tenant, request_id)
        except (StoreError, TimeoutError) as exc:
            raise errors.Unavailable("the result store is unavailable; retry shortly") from exc
        if found is None:
            raise errors.NotFound(
                f"no result is kept for request {request_id!r} (only escalated or reviewed "
                "requests and those sent with a request_id are, within their window)"
            )
        return found

    async def _current(self, tenant: str, request_id: str) -> AskResult | None:
        item = await self._items.by_request(tenant, request_id)
        if item is not None:
            return result_of(item, utcnow())
        stored = await self._ledger.get(tenant, request_id)
        if stored is None or stored.response is None:
            return None
        return AskResult.model_validate_json(stored.response)

    async def give(self, ctx: RequestContext, request_id: str, rating: Rating) -> Recorded:
        """Records the rating of one of the caller's requests (replacing an earlier one)."""
        request_id = self._request_id(ctx, request_id, "feedback")
        problem = ""
        if (rating.thumb is None) == (rating.score is None):
            problem = "give exactly one of a thumb and a score"
        elif rating.score is not None and not 1 <= rating.score <= 5:
            problem = "a score must be between 1 and 5"
        elif len(rating.comment) > MAX_COMMENT_CHARS:
            problem = f"the comment is longer than {MAX_COMMENT_CHARS} characters"
        if problem:
            self._refused(ctx, request_id, problem)
            raise errors.InvalidRequest(problem)
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                joined = await self._join(ctx.tenant, request_id)
                if joined is None:
                    self._refused(ctx, request_id, "unknown request")
                    raise errors.NotFound(
                        f"tenant {ctx.tenant or '-'} sent no request {request_id!r}"
                    )
                saved, new = await self._feedback.give(
                    tenant=ctx.tenant,
                    request_id=request_id,
                    thumb=rating.thumb,
                    score=rating.score,
                    comment=rating.comment,
                    agent=joined.agent,
                    route_method=joined.method,
                    status=joined.status,
                    given_by=ctx.principal.actor if ctx.principal else "",
                    prompt_version=joined.prompt_version or None,
                )
        except (StoreError, TimeoutError) as exc:
            raise errors.Unavailable("the feedback store is unavailable; retry shortly") from exc
        self._audit.submit(
            event(
                AuditKind.FEEDBACK,
                request_id=request_id,
                tenant=ctx.tenant,
                agent=saved.agent,
                outcome="positive" if saved.positive else "negative",
                detail={"thumb": saved.thumb, "score": saved.score, "replaced": not new},
            )
        )
        return Recorded(request_id, not new, saved.agent, saved.status)

    async def _join(self, tenant: str, request_id: str) -> _Joined | None:
        """How the request was answered, from its item, its stored result or its audit."""
        item = await self._items.by_request(tenant, request_id)
        if item is not None:
            current = result_of(item, utcnow())
            return _Joined(
                current.agent or item.agent,
                current.route.method,
                current.outcome,
                current.prompt_version or item.draft.get("prompt_version", ""),
            )
        stored = await self._ledger.get(tenant, request_id)
        if stored is not None and stored.response is not None:
            result = AskResult.model_validate_json(stored.response)
            return _Joined(result.agent, result.route.method, result.outcome, result.prompt_version)
        rows = await self._audit_log.query(request_id=request_id, tenant=tenant, limit=50)
        if not rows:
            return None
        agent, method, status, version = "", "", "", ""
        for row in reversed(rows):  # oldest first: the last word wins
            if row.kind is AuditKind.ROUTE_DECISION:
                agent, method = row.agent or agent, row.outcome or method
            elif row.kind is AuditKind.AGENT_CALL and row.outcome:
                agent, status = row.agent or agent, row.outcome
                version = str(row.detail.get("prompt_version", "")) or version
            elif row.kind is AuditKind.ESCALATION:
                status = "ESCALATED"
            elif row.kind is AuditKind.CLARIFICATION:
                status = "NEEDS_CLARIFICATION"
            elif row.kind is AuditKind.REFUSAL:
                status = "REFUSED"
        return _Joined(agent, method, status, version)

    def _request_id(self, ctx: RequestContext, request_id: str, what: str) -> str:
        try:
            checked = validate_request_id(request_id)
        except errors.InvalidRequest:
            self._refused(ctx, request_id[:128], "malformed request id", what=what)
            raise
        if not checked:
            self._refused(ctx, "", "missing request id", what=what)
            raise errors.InvalidRequest("give the request_id of the answer")
        return checked

    def _refused(self, ctx: RequestContext, request_id: str, why: str, what: str = "") -> None:
        self._audit.submit(
            event(
                AuditKind.FEEDBACK if what != "get_result" else AuditKind.REVIEW,
                request_id=request_id,
                tenant=ctx.tenant,
                outcome="refused",
                detail={"why": why, "rpc": what or "feedback"},
            )
        )
