"""Admission control: a saturated service sheds load early and explicitly.

Past a point, more concurrent requests add no throughput on a service (its cores are busy);
they only make every request slower. So at most ``max_in_flight`` calls run at once; up to
``max_queue`` more wait in arrival order for a slot, each no longer than ``max_wait_s`` (or
its own deadline); anything beyond that is refused at once with RESOURCE_EXHAUSTED and a
``retry-after``, never left to time out. Admitted calls keep a bounded p99 instead of every
call slowing down.

Every shed call is counted (``switchboard.admission.shed``); the audit log gets ONE
``limit_exceeded`` event per burst (the first shed after a calm period) and then at most one
every ``audit_interval_s`` with how many were shed since, not one row per refused call.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opentelemetry import metrics

from switchboard.core import errors
from switchboard.core.audit import AuditEvent, AuditKind, AuditSink, NoAudit
from switchboard.core.settings import LimitSettings

log = logging.getLogger(__name__)


class Admission:
    """Slots for concurrent calls, a bounded queue for the rest, shedding beyond it."""

    def __init__(
        self,
        *,
        service: str,
        max_in_flight: int,
        max_queue: int,
        max_wait_s: float,
        retry_after_s: float = 1.0,
        audit: AuditSink | None = None,
        audit_interval_s: float = 10.0,
        meter: metrics.Meter | None = None,
    ) -> None:
        self.service = service
        self.max_in_flight = max(1, max_in_flight)
        self.max_queue = max(0, max_queue)
        self.max_wait_s = max_wait_s
        self.retry_after_s = retry_after_s
        self._audit: AuditSink = audit or NoAudit()
        self._audit_interval_s = audit_interval_s
        self._in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._last_audit = float("-inf")
        self._unaudited = 0
        self.shed_total = 0
        meter = meter or metrics.get_meter("switchboard.admission")
        self._shed = meter.create_counter(
            "switchboard.admission.shed",
            unit="{call}",
            description="Calls refused because the service was saturated (RESOURCE_EXHAUSTED).",
        )
        meter.create_observable_up_down_counter(
            "switchboard.admission.queued",
            callbacks=[lambda _o: [metrics.Observation(len(self._waiters))]],
            unit="{call}",
            description="Calls waiting for a slot.",
        )

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def queued(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self, *, time_remaining: float | None = None) -> AsyncIterator[None]:
        """Holds one slot for the body; raises ``ResourceExhausted`` when shed."""
        await self.acquire(time_remaining)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, time_remaining: float | None = None) -> None:
        """Takes a slot (waiting in the queue if need be); raises ``ResourceExhausted`` when
        shed. Every successful call must be paired with :meth:`release`."""
        if self._in_flight < self.max_in_flight and not self._waiters:
            self._in_flight += 1
            return
        if len(self._waiters) >= self.max_queue:
            raise self._refuse("queue full")
        wait = self.max_wait_s if time_remaining is None else min(self.max_wait_s, time_remaining)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                await future  # a releasing call hands its slot over (in_flight unchanged)
        except TimeoutError:
            if future.done() and not future.cancelled():
                return  # the slot arrived as the wait ran out: keep it
            raise self._refuse("waited too long for a slot") from None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot we will not use: pass it on
            raise
        finally:
            if not future.done():
                future.cancel()
            if future in self._waiters:
                self._waiters.remove(future)

    def release(self) -> None:
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)  # the slot passes to the oldest waiter
                return
        self._in_flight -= 1

    def _refuse(self, reason: str) -> errors.ResourceExhausted:
        self.shed_total += 1
        self._unaudited += 1
        self._shed.add(1, {"service": self.service, "reason": reason})
        now = time.monotonic()
        if now - self._last_audit >= self._audit_interval_s:
            log.warning(
                "overloaded: shedding calls",
                extra={
                    "service": self.service,
                    "shed": self._unaudited,
                    "in_flight": self._in_flight,
                    "queued": len(self._waiters),
                },
            )
            self._audit.submit(
                AuditEvent(
                    kind=AuditKind.LIMIT_EXCEEDED,
                    outcome="resource_exhausted",
                    detail={
                        "reason": "overloaded",
                        "service": self.service,
                        "shed_since_last_event": self._unaudited,
                        "max_in_flight": self.max_in_flight,
                        "max_queue": self.max_queue,
                    },
                )
            )
            self._last_audit = now
            self._unaudited = 0
        return errors.ResourceExhausted(
            f"{self.service} is overloaded ({reason}); retry after {self.retry_after_s:g} s",
            retry_after_s=self.retry_after_s,
        )


def admission(limits: LimitSettings, service: str, audit: AuditSink) -> Admission:
    """Admission control as a service's settings configure it."""
    return Admission(
        service=service,
        max_in_flight=limits.max_in_flight,
        max_queue=limits.max_queue,
        max_wait_s=limits.max_queue_wait_s,
        retry_after_s=limits.shed_retry_after_s,
        audit=audit,
    )
