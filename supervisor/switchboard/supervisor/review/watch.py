"""Waiting for a person: the caller's stream of a request's review outcome (``WatchResult``).

An escalated request (or an action a reviewer must approve) ends its ``Ask``/``AskStream``
with the item still open; the caller that wants the person's answer as soon as it exists,
rather than calling ``GetResult`` on a timer of its own, watches the request. The decision is
read where ``GetResult`` reads it (``CallerResults``, the durable store), so any supervisor
replica sees a resolution made on any other; one indexed read per waiting request per
``poll_s``. The watch ends with the request's current result: after the person's decision, or
after ``max_wait_s`` (or the caller's deadline) with the item still open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from switchboard.core import errors
from switchboard.core.context import RequestContext
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.review.callers import CallerResults

log = logging.getLogger(__name__)

#: Kept back from the caller's deadline so the last result still reaches it.
REPLY_MARGIN_S = 0.5


@dataclass(frozen=True)
class HumanDecided:
    """A person resolved, approved, rejected or closed the request's review item."""

    result: AskResult


@dataclass(frozen=True)
class Current:
    """The request's result as ``GetResult`` returns it; always the watch's last event."""

    result: AskResult


Watched = HumanDecided | Current


def waiting_on_person(result: AskResult) -> bool:
    """True while the request's review item is open (nobody has decided yet)."""
    return result.review is not None and result.review.state == "open"


class ResultWatcher:
    def __init__(self, results: CallerResults, *, poll_s: float, max_wait_s: float) -> None:
        self._results = results
        self._poll_s = poll_s
        self._max_wait_s = max_wait_s

    async def watch(
        self, ctx: RequestContext, request_id: str, max_wait_s: float = 0.0
    ) -> AsyncGenerator[Watched, None]:
        """``HumanDecided`` when a person decides, then ``Current``. A request the caller
        never sent is NOT_FOUND before anything is streamed; ``max_wait_s`` (0: the
        configured longest wait) can only shorten the wait."""
        if max_wait_s < 0:
            raise errors.InvalidRequest("max_wait_s must not be negative")
        wait = self._max_wait_s if max_wait_s == 0 else min(max_wait_s, self._max_wait_s)
        remaining = ctx.deadline.remaining()
        if remaining is not None:
            wait = min(wait, max(0.0, remaining - REPLY_MARGIN_S))
        current = await self._results.result(ctx, request_id)
        until = time.monotonic() + wait
        while waiting_on_person(current) and time.monotonic() < until:
            await asyncio.sleep(min(self._poll_s, max(0.0, until - time.monotonic())))
            try:
                latest = await self._results.result(ctx, request_id)
            except errors.Unavailable as exc:  # a store blip: the next poll tries again
                log.warning("watch: result store unavailable", extra={"request_id": request_id})
                if time.monotonic() >= until:
                    raise exc
                continue
            if not waiting_on_person(latest):
                decided = latest.review is not None and latest.review.state != "expired"
                if decided:
                    yield HumanDecided(latest)
            current = latest
        yield Current(current)
