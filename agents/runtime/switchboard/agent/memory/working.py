"""The agent's working memory: its tool loop's scratch-pad, saved per step in the shared store.

Why: a loop that proposes an action stops and waits for a confirmation, which may reach any
replica, after a restart. The scratch-pad (``store/working_types.py``) lets that replica
give the model the action's result and carry on where it stopped.

Never in the way of an answer: each save, load or delete waits at most
``SWITCHBOARD_WORKING_MEMORY_TIMEOUT_S`` and never past the request's deadline; a failure is
logged and counted (``switchboard.working_memory.failures``) and the request goes on
without, so a later confirmation finds nothing to resume and answers with the action's
result alone, as it did before working memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TypeVar

from opentelemetry import metrics
from pydantic import ValidationError

from switchboard.agent.settings import WorkingMemorySettings
from switchboard.core.audit import utcnow
from switchboard.core.context import RequestContext
from switchboard.store import ScratchPad, StoreError, WorkingMemories

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkingMemory:
    """Saves, finds and deletes scratch-pads within the request's deadline; never raises
    for the store (the failure is counted instead)."""

    def __init__(
        self,
        store: WorkingMemories,
        settings: WorkingMemorySettings,
        *,
        meter: metrics.Meter | None = None,
    ) -> None:
        self._store = store
        self._s = settings
        meter = meter or metrics.get_meter("switchboard.agent")
        self._failures = meter.create_counter(
            "switchboard.working_memory.failures",
            unit="{operation}",
            description="Scratch-pad saves, loads and deletes that failed or timed out (the "
            "answer went on without them), by operation.",
        )
        self.failures = 0  # tests read it

    async def save(self, ctx: RequestContext, pad: ScratchPad, *, until: datetime | None) -> bool:
        """Saves the loop's state after a step; kept until ``until`` (the proposed action's
        expiry) or the TTL, whichever is sooner. False when it could not be saved."""
        now = utcnow()
        expires = now + timedelta(seconds=self._s.ttl_s)
        if until is not None:
            expires = min(expires, until)

        async def saved() -> bool:
            await self._store.save(pad, expires_at=expires, now=now)
            return True

        return await self._bounded(ctx, "save", saved()) is True

    async def load(self, ctx: RequestContext, action_id: str) -> ScratchPad | None:
        """The scratch-pad awaiting ``action_id`` in the request's tenant, or None (none
        saved, expired, or the store failed)."""
        return await self._bounded(ctx, "load", self._store.load(ctx.tenant, action_id))

    async def delete(self, ctx: RequestContext, pad: ScratchPad) -> None:
        """Deletes the scratch-pad of a loop that has finished."""
        await self._bounded(ctx, "delete", self._store.delete(pad.tenant, pad.request_id))

    async def _bounded(self, ctx: RequestContext, op: str, work: Awaitable[T]) -> T | None:
        left = ctx.deadline.remaining()
        limit = self._s.timeout_s if left is None else max(0.0, min(self._s.timeout_s, left))
        try:
            async with asyncio.timeout(limit):
                return await work
        except (StoreError, TimeoutError, ValidationError) as exc:
            self.failures += 1
            self._failures.add(1, {"operation": op, "error.type": type(exc).__name__})
            log.warning(
                f"working memory {op} failed; going on without it",
                extra={"error": str(exc)[:300], "request_id": ctx.request_id},
            )
            return None
