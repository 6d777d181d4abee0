"""The store's writes on the request path, grouped into as few transactions as possible.

SQLite lets one connection write at a time. When every request claimed its id, stored its
result and saved its session in transactions of its own, a burst of 300 requests meant 600+
transactions queueing for the pool and for the file lock, and claims timed out. Here each
write is an operation (``async (session) -> result``) queued for a writer task; the task
takes everything queued (up to ``max_batch``), runs the operations in order in ONE
transaction and commits once (group commit), then hands each caller its result. On SQLite
there is one writer, so writes never contend for the file lock in this process; on
PostgreSQL a few writers share the pool. A caller waits until its write is committed, so
durability is what it was with a transaction per write.

If an operation fails, the whole transaction is rolled back and each operation of that
batch is run again in a transaction of its own, so one bad write never fails its neighbours.
A caller cancelled while its operation still waits in the queue takes it out of the queue.
Something that is not an ``Exception`` (a stray cancellation) ending a writer task fails its
batch with ``StoreError`` and the next write starts a new task (logged "store writer
stopped"): once, a dead writer left every later claim of the process waiting to time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors
from switchboard.store.errors import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[AsyncSession], Awaitable[Any]]


class _Job:
    __slots__ = ("future", "op", "what")

    def __init__(self, what: str, op: Operation, future: asyncio.Future[Any]) -> None:
        self.what = what
        self.op = op
        self.future = future


class GroupWriter:
    """Runs write operations in shared transactions; see the module docstring."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        writers: int = 1,
        max_batch: int = 128,
    ) -> None:
        self._sessions = sessions
        self._writers = max(1, writers)
        self._max_batch = max(1, max_batch)
        self._queue: asyncio.Queue[_Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.transactions = 0  # committed (bench and tests read these)
        self.operations = 0

    async def write(self, what: str, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``op``'s result once its transaction committed; failures raise ``StoreError``."""
        loop = asyncio.get_running_loop()
        if self._closed or (self._loop is not None and self._loop is not loop):
            # Shutting down, or called from another event loop than the writer's: one
            # transaction of its own, as before.
            async with store_errors(what), self._sessions.begin() as session:
                return await op(session)
        queue = self._start()
        future: asyncio.Future[T] = loop.create_future()
        queue.put_nowait(_Job(what, op, future))
        return await future

    def _start(self) -> asyncio.Queue[_Job]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop = self._loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._run(self._queue), name=f"store-writer-{i}")
                for i in range(self._writers)
            ]
        else:
            self._revive()
        return self._queue

    def _revive(self) -> None:
        """Replaces a writer task that died. Only something that is not an ``Exception`` ends
        one (a stray cancellation, a test runner's timeout raised inside it); without a
        writer, every later write would wait in the queue for ever, and with it every claim."""
        if self._queue is None or self._loop is None:
            return
        for i, task in enumerate(self._tasks):
            if task.done():
                reason = "cancelled" if task.cancelled() else repr(task.exception())
                log.error("store writer stopped; starting another", extra={"reason": reason})
                self._tasks[i] = self._loop.create_task(
                    self._run(self._queue), name=f"store-writer-{i}"
                )

    async def close(self) -> None:
        """Commits what is queued, then stops the writer tasks."""
        self._closed = True
        self._revive()  # what a dead writer left queued is committed too
        queue, tasks = self._queue, self._tasks
        self._queue, self._tasks = None, []
        if queue is None:
            return
        await queue.join()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            jobs = [await queue.get()]
            while len(jobs) < self._max_batch and not queue.empty():
                jobs.append(queue.get_nowait())
            live = [j for j in jobs if not j.future.cancelled()]
            try:
                if live:
                    await self._commit(live)
            finally:
                for job in jobs:
                    # Whatever ended the batch early, no caller waits for ever on its write.
                    if not job.future.done():
                        job.future.set_exception(
                            StoreError(f"{job.what} failed: the write was interrupted")
                        )
                    queue.task_done()

    async def _commit(self, jobs: list[_Job]) -> None:
        if len(jobs) > 1:
            try:
                async with store_errors(jobs[0].what), self._sessions.begin() as session:
                    results = [await job.op(session) for job in jobs]
            except Exception as exc:
                log.info(
                    "grouped write failed; writing one by one",
                    extra={"operations": len(jobs), "error": repr(exc)[:300]},
                )
            else:
                self.transactions += 1
                self.operations += len(jobs)
                for job, result in zip(jobs, results, strict=True):
                    if not job.future.done():
                        job.future.set_result(result)
                return
        for job in jobs:  # alone, or again one by one after a failed group
            try:
                async with store_errors(job.what), self._sessions.begin() as session:
                    result = await job.op(session)
            except Exception as exc:
                if not job.future.done():
                    job.future.set_exception(exc)
            else:
                self.transactions += 1
                self.operations += 1
                if not job.future.done():
                    job.future.set_result(result)


async def write(
    writer: GroupWriter | None,
    sessions: async_sessionmaker[AsyncSession],
    what: str,
    op: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """``op`` through ``writer`` when the store has one, else in a transaction of its own."""
    if writer is not None:
        return await writer.write(what, op)
    async with store_errors(what), sessions.begin() as session:
        return await op(session)
