"""The batched audit writer: events off the request path, through a database outage.

Requests submit events without waiting; a background task writes them in batches. When the
database fails, batches go to a bounded local-disk spool (``audit_spool.py``) and are
replayed when it is back (docs/security.md has the per-kind policy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from typing import IO

from opentelemetry import metrics

from switchboard.core.audit import AuditEvent
from switchboard.core.telemetry import current_trace_id
from switchboard.store.audit import AuditLog
from switchboard.store.audit_spool import AuditSpool
from switchboard.store.errors import StoreError

log = logging.getLogger(__name__)


class AuditWriter:
    """Buffers events and writes them in batches off the request path.

    :meth:`submit` never blocks and never raises. When the database fails, each batch goes
    to the local-disk spool (bounded, fsynced; ``audit_spool.py``) and is replayed once the
    database answers again, with files left by crashed processes; the backlog (queued plus
    spooled events) is the metric ``switchboard.audit.backlog``. Only when the spool is full
    (or there is none) are events dropped: counted by kind in
    ``switchboard.audit.dropped`` and logged as errors, never quietly. Kinds that must not go
    unrecorded are refused before they happen instead: callers check :meth:`accepting`
    (docs/security.md). :meth:`close` writes what is queued, then stops.
    """

    def __init__(
        self,
        audit: AuditLog,
        *,
        max_queue: int = 10_000,
        batch_size: int = 200,
        flush_interval_s: float = 0.2,
        spool: AuditSpool | None = None,
        retry_interval_s: float = 2.0,
        meter: metrics.Meter | None = None,
    ) -> None:
        self._audit = audit
        # None is the stop signal; one slot beyond max_queue is kept for it.
        self._queue: asyncio.Queue[AuditEvent | None] = asyncio.Queue(max_queue + 1)
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._spool = spool
        self._retry = retry_interval_s
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._store_ok = True
        self.written = 0
        self.spooled = 0
        self.dropped = 0
        meter = meter or metrics.get_meter("switchboard.audit")
        self._dropped = meter.create_counter(
            "switchboard.audit.dropped",
            unit="{event}",
            description="Audit events lost: the database failed and the local spool was full.",
        )
        meter.create_observable_gauge(
            "switchboard.audit.backlog",
            callbacks=[self._observe_backlog],
            unit="{event}",
            description="Audit events not yet in the database (queued in memory + spooled).",
        )

    @property
    def backlog(self) -> int:
        return self._queue.qsize() + (self._spool.pending if self._spool is not None else 0)

    def _observe_backlog(self, _options: metrics.CallbackOptions) -> list[metrics.Observation]:
        return [metrics.Observation(self.backlog)]

    def accepting(self) -> bool:
        """False while a new event could not be kept: the database fails and the spool is
        full (or there is none). Actions that must be audited are refused meanwhile."""
        if self._store_ok:
            return True
        return self._spool is not None and not self._spool.full

    def start(self) -> None:
        """Starts the background writer on the running loop."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="audit-writer")

    def _revive(self) -> None:
        """Replaces a writer task that died (only something that is not an ``Exception`` ends
        it: a stray cancellation, a test runner's timeout raised inside it); without it,
        events would only pile up until they are dropped."""
        task = self._task
        if task is not None and task.done():
            reason = "cancelled" if task.cancelled() else repr(task.exception())
            log.error("audit writer stopped; starting another", extra={"reason": reason})
            self._task = task.get_loop().create_task(self._run(), name="audit-writer")

    def submit(self, event: AuditEvent) -> bool:
        """Queues an event; False when it had to be dropped (counted and logged)."""
        self._revive()
        if self._closing or self._queue.qsize() >= self._max_queue:
            self._drop([event], "the audit queue is full" if not self._closing else "closing")
            return False
        if event.trace_id is None:
            # Taken now, while the request's span is still current.
            event = event.model_copy(update={"trace_id": current_trace_id() or None})
        self._queue.put_nowait(event)
        return True

    def _drop(self, events: Sequence[AuditEvent], why: str) -> None:
        self.dropped += len(events)
        for event in events:
            self._dropped.add(1, {"kind": event.kind.value})
        log.error(
            "audit events dropped",
            extra={"count": len(events), "why": why, "kinds": sorted({e.kind for e in events})},
        )

    async def _write(self, batch: list[AuditEvent]) -> None:
        if not batch:
            return
        try:
            await self._audit.record_many(batch)
        except StoreError as exc:
            self._store_ok = False
            await self._spill(batch, exc.message)
            return
        self._store_ok = True
        self.written += len(batch)
        await self._replay()

    async def _spill(self, batch: list[AuditEvent], error: str) -> None:
        """The database failed: the batch goes to the spool, what does not fit is dropped."""
        kept = 0
        if self._spool is not None:
            try:
                kept = await asyncio.to_thread(self._spool.append, batch)
            except OSError as exc:
                log.error("audit spool unwritable", extra={"error": str(exc)})
        self.spooled += kept
        if kept:
            log.warning(
                "audit write failed; events buffered on local disk",
                extra={"count": kept, "backlog": self.backlog, "error": error},
            )
        if kept < len(batch):
            self._drop(batch[kept:], f"database failed ({error}) and the audit spool is full")

    async def _replay(self) -> None:
        """Writes spooled events (this process's, then orphaned files) while the database
        takes them; stops at the first failure, keeping what is left."""
        spool = self._spool
        if spool is None:
            return
        if spool.pending:
            events = await asyncio.to_thread(spool.read_own)
            done = await self._write_spooled(events)
            await asyncio.to_thread(spool.keep_own, events[done:])
            if done < len(events):
                return
            log.info("spooled audit events replayed", extra={"count": done})
        for path in await asyncio.to_thread(spool.orphans):
            adopted = await asyncio.to_thread(spool.adopt, path)
            if adopted is None:
                continue
            handle, events = adopted
            done = await self._write_spooled(events)
            if done < len(events):  # written ones would repeat: keep only the rest there
                await asyncio.to_thread(_rewrite, handle, events[done:])
                return
            await asyncio.to_thread(spool.finish_orphan, path, handle)
            log.info("orphaned audit spool replayed", extra={"file": path.name, "count": done})

    async def _write_spooled(self, events: list[AuditEvent]) -> int:
        done = 0
        for i in range(0, len(events), self._batch_size):
            batch = events[i : i + self._batch_size]
            try:
                await self._audit.record_many(batch)
            except StoreError:
                self._store_ok = False
                return done
            done += len(batch)
            self.written += len(batch)
        self._store_ok = True
        return done

    async def _next(self) -> AuditEvent | None:
        """The next queued item; while events are spooled, retries the database meanwhile."""
        while True:
            if self._spool is None or not self._spool.pending:
                return await self._queue.get()
            try:
                async with asyncio.timeout(self._retry):
                    return await self._queue.get()
            except TimeoutError:
                await self._replay()

    async def _run(self) -> None:
        await self._replay()  # files left by a process that crashed
        stop = False
        while not stop:
            first = await self._next()
            batch: list[AuditEvent] = []
            if first is None:
                stop = True
            else:
                batch.append(first)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        while len(batch) < self._batch_size:
                            item = await self._queue.get()
                            if item is None:
                                stop = True
                                break
                            batch.append(item)
            await self._write(batch)

    async def close(self) -> None:
        """Writes everything still queued (to the database or the spool), then stops."""
        self._revive()
        self._closing = True
        if self._task is None:
            batch = [e for e in self._drain() if e is not None]
            for i in range(0, len(batch), self._batch_size):
                await self._write(batch[i : i + self._batch_size])
        else:
            self._queue.put_nowait(None)
            task, self._task = self._task, None
            await task
        if self._spool is not None:
            if self._spool.pending:
                log.warning(
                    "audit events left in the local spool; the next start replays them",
                    extra={"count": self._spool.pending, "file": str(self._spool.path)},
                )
            await asyncio.to_thread(self._spool.close)

    def _drain(self) -> list[AuditEvent | None]:
        items: list[AuditEvent | None] = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items


def _rewrite(handle: IO[str], events: Sequence[AuditEvent]) -> None:
    """Leaves only ``events`` in an adopted spool file, then releases it."""
    handle.seek(0)
    handle.truncate()
    handle.write("".join(e.model_dump_json() + "\n" for e in events))
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
