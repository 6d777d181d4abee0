"""The audit log: what happened to each request, when, for whom, and how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.core.audit import AuditEvent, AuditKind, as_utc, utcnow
from switchboard.core.telemetry import current_trace_id
from switchboard.store._common import store_errors
from switchboard.store.errors import StoreError
from switchboard.store.models import AuditEventRow
from switchboard.store.writer import GroupWriter, write

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 16_000
_AUDIT_TABLE = cast(Table, AuditEventRow.__table__)
__all__ = ["AuditEvent", "AuditKind", "AuditLog", "AuditRecord", "AuditWriter"]


class AuditRecord(AuditEvent):
    """An event as stored, with its row id."""

    id: int


def _row_values(event: AuditEvent) -> dict[str, Any]:
    detail: dict[str, Any] = dict(event.detail)
    size = len(json.dumps(detail, default=str))
    if size > MAX_DETAIL_CHARS:
        detail = {"truncated": True, "size": size, "keys": sorted(detail)[:50]}
    return {
        "time": event.time,
        "kind": event.kind.value,
        "request_id": event.request_id,
        "trace_id": event.trace_id or current_trace_id() or None,
        "tenant": event.tenant,
        "agent": event.agent,
        "outcome": event.outcome,
        "detail": detail,
    }


def _record(row: AuditEventRow) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        time=row.time,
        kind=AuditKind(row.kind),
        request_id=row.request_id,
        trace_id=row.trace_id,
        tenant=row.tenant,
        agent=row.agent,
        outcome=row.outcome,
        detail=row.detail or {},
    )


class AuditLog:
    """Writes and reads ``audit_events``. Every failure raises :class:`StoreError`."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], writer: GroupWriter | None = None
    ) -> None:
        self._sessions = sessions
        self._writer = writer  # batches join the store's grouped transactions

    async def record(self, event: AuditEvent) -> None:
        """Writes one event and waits for the commit."""
        await self.record_many([event])

    async def record_many(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        rows = [_row_values(e) for e in events]

        async def op(session: AsyncSession) -> None:
            # Core insert on the table: the ORM's bulk path cost more than the write itself.
            await session.execute(insert(_AUDIT_TABLE), rows)

        await write(self._writer, self._sessions, "writing audit events", op)

    async def query(
        self,
        *,
        request_id: str | None = None,
        kind: AuditKind | str | None = None,
        tenant: str | None = None,
        agent: str | None = None,
        trace_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[AuditRecord]:
        """Events matching every filter given, newest first unless ``newest_first=False``."""
        stmt = select(AuditEventRow)
        if request_id is not None:
            stmt = stmt.where(AuditEventRow.request_id == request_id)
        if kind is not None:
            stmt = stmt.where(AuditEventRow.kind == AuditKind(kind).value)
        if tenant is not None:
            stmt = stmt.where(AuditEventRow.tenant == tenant)
        if agent is not None:
            stmt = stmt.where(AuditEventRow.agent == agent)
        if trace_id is not None:
            stmt = stmt.where(AuditEventRow.trace_id == trace_id)
        if since is not None:
            stmt = stmt.where(AuditEventRow.time >= as_utc(since))
        if until is not None:
            stmt = stmt.where(AuditEventRow.time < as_utc(until))
        if newest_first:
            stmt = stmt.order_by(AuditEventRow.time.desc(), AuditEventRow.id.desc())
        else:
            stmt = stmt.order_by(AuditEventRow.time, AuditEventRow.id)
        stmt = stmt.limit(max(1, limit))
        async with store_errors("reading audit events"), self._sessions() as session:
            rows = (await session.scalars(stmt)).all()
        return [_record(r) for r in rows]

    async def purge(self, *, older_than_s: float) -> int:
        """Deletes events older than ``older_than_s`` seconds; returns how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        async with store_errors("purging audit events"), self._sessions.begin() as session:
            result = await session.execute(delete(AuditEventRow).where(AuditEventRow.time < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


class AuditWriter:
    """Buffers events and writes them in batches off the request path.

    :meth:`submit` never blocks and never raises: when the queue is full, or the database is
    down, events are dropped, counted in :attr:`dropped` and logged. :meth:`close` writes what
    is queued, then stops. Use :meth:`AuditLog.record` instead where an event must be durable
    before the request goes on.
    """

    def __init__(
        self,
        audit: AuditLog,
        *,
        max_queue: int = 10_000,
        batch_size: int = 200,
        flush_interval_s: float = 0.2,
    ) -> None:
        self._audit = audit
        # None is the stop signal; one slot beyond max_queue is kept for it.
        self._queue: asyncio.Queue[AuditEvent | None] = asyncio.Queue(max_queue + 1)
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.dropped = 0

    def start(self) -> None:
        """Starts the background writer on the running loop."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="audit-writer")

    def submit(self, event: AuditEvent) -> bool:
        """Queues an event; False when it had to be dropped."""
        if self._closing or self._queue.qsize() >= self._max_queue:
            self.dropped += 1
            log.warning("audit event dropped", extra={"kind": event.kind.value})
            return False
        if event.trace_id is None:
            # Taken now, while the request's span is still current.
            event = event.model_copy(update={"trace_id": current_trace_id() or None})
        self._queue.put_nowait(event)
        return True

    async def _write(self, batch: list[AuditEvent]) -> None:
        if not batch:
            return
        try:
            await self._audit.record_many(batch)
            self.written += len(batch)
        except StoreError as exc:
            self.dropped += len(batch)
            log.error(
                "audit write failed; events dropped",
                extra={"count": len(batch), "error": exc.message},
            )

    async def _run(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
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
        """Writes everything still queued, then stops the background writer."""
        self._closing = True
        if self._task is None:
            batch = [e for e in self._drain() if e is not None]
            for i in range(0, len(batch), self._batch_size):
                await self._write(batch[i : i + self._batch_size])
            return
        self._queue.put_nowait(None)
        task, self._task = self._task, None
        await task

    def _drain(self) -> list[AuditEvent | None]:
        items: list[AuditEvent | None] = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items
