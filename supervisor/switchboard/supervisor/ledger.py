"""Idempotent Ask: a repeated request_id gets the stored response, never a second run.

Only caller-chosen ids take part (a generated id is new by definition). The first caller
claims the id in the durable store, runs the request and stores its result (as JSON);
a repeat within the window gets those bytes back (audited as a replay), a repeat while the
first is still running is told to retry shortly (ABORTED), and the same id sent with a
different request is refused (ALREADY_EXISTS). A run that fails, or is cancelled, releases
its claim, so the caller may retry with the same id: nothing was stored, nothing is lost.
Only final outcomes are kept: an escalation because an agent was down is released, so a
retry after the agent recovers is answered afresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from switchboard.core import errors
from switchboard.core.context import RequestContext
from switchboard.store import StoreError
from switchboard.store.idempotency import Claim, ClaimOutcome, IdempotencyStore
from switchboard.supervisor.results import AskResult

log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 5.0


def fingerprint(
    *, text: str, session_id: str, agent: str, confirm_action: str, metadata: Mapping[str, str]
) -> str:
    """What makes two requests "the same request" for one id."""
    body = json.dumps(
        {
            "text": text,
            "session_id": session_id,
            "agent": agent,
            "confirm_action": confirm_action,
            "metadata": dict(sorted(metadata.items())),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class RequestLedger:
    """Runs each (tenant, request_id) at most once within the store's window."""

    def __init__(self, store: IdempotencyStore, *, lease_s: float = 300.0) -> None:
        self._store = store
        self._lease_s = lease_s

    async def run(
        self,
        ctx: RequestContext,
        fingerprint: str,
        produce: Callable[[], Awaitable[AskResult]],
    ) -> tuple[AskResult, bool]:
        """The result and whether it was replayed from an earlier run."""
        tenant, request_id = ctx.tenant, ctx.request_id
        left = ctx.deadline.remaining()
        lease = self._lease_s if left is None else min(self._lease_s, max(left, 0.0) + 5.0)
        claim = await self._claim(tenant, request_id, fingerprint, lease)
        if claim.outcome is ClaimOutcome.DONE and claim.response is not None:
            return AskResult.model_validate_json(claim.response), True
        if claim.outcome is ClaimOutcome.IN_PROGRESS:
            raise errors.InProgress(
                f"request {request_id!r} is still being answered; retry shortly with the same "
                "request_id to get its result"
            )
        if claim.outcome is ClaimOutcome.CONFLICT:
            raise errors.Conflict(
                f"request_id {request_id!r} was already used for a different request; use a "
                "new request_id for a new request"
            )
        try:
            result = await produce()
        except BaseException:
            await asyncio.shield(self._release(claim))
            raise
        if not result.final:
            await asyncio.shield(self._release(claim))  # not an outcome to replay
            return result, False
        data = result.model_dump_json().encode()
        if not await asyncio.shield(self._complete(claim, data, result.outcome.value)):
            # Never hand out an answer a repeat could not get back: the caller retries with
            # the same id and gets the stored answer, or (claim released) one new run.
            await asyncio.shield(self._release(claim))
            raise errors.Unavailable(
                f"the answer to request {request_id!r} could not be stored, so it was not "
                "given out; retry with the same request_id"
            )
        return result, False

    async def _claim(self, tenant: str, request_id: str, fingerprint: str, lease: float) -> Claim:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                return await self._store.claim(
                    tenant, request_id, fingerprint=fingerprint, lease_s=lease
                )
        except (StoreError, TimeoutError) as exc:
            raise errors.Unavailable(
                "the request store is unavailable, so the request was not run (it would not "
                "be safe to run it twice); retry with the same request_id"
            ) from exc

    async def _complete(self, claim: Claim, response: bytes, status: str) -> bool:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                stored = await self._store.complete(claim, response, status=status)
        except (StoreError, TimeoutError) as exc:
            log.warning("request result not stored", extra={"error": repr(exc)})
            return False
        if not stored:
            log.warning("request claim was lost before completion")
        return stored

    async def _release(self, claim: Claim) -> None:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                await self._store.release(claim)
        except (StoreError, TimeoutError) as exc:
            log.warning("request claim not released", extra={"error": str(exc)})
