"""Streams in progress and just finished: who listens, what they missed, when to stop.

A :class:`StreamRun` is one streamed request running as a task the :class:`StreamHub` owns
(tracked; cancelled and awaited when the supervisor closes). It keeps its numbered events
(up to ``max_held_events``) so that a caller can attach to it (a repeat of its request id
while it runs) or resume after a dropped connection (``ResumeStream`` with the last sequence
number seen), and wakes its listeners as events arrive; nothing is buffered per listener.

When its last listener goes away (the caller cancelled, its deadline passed, the connection
dropped) the run is cancelled at once, which cancels the agent's stream and its LLM stream:
unless the request has a caller-chosen id and ``detach_grace_s`` is set, in which case it
keeps running that long for a caller to re-attach (and, if it finishes, its result is stored
for replay like any Ask). Finished runs stay held ``resume_window_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from functools import partial

from switchboard.core import errors
from switchboard.supervisor.streaming.events import Numbered

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (tenant, request_id)


class StreamRun:
    def __init__(self, key: Key, fingerprint: str, *, max_events: int, grace_s: float) -> None:
        self.key = key
        self.fingerprint = fingerprint
        self._max = max_events
        self._grace = grace_s
        self.events: list[Numbered] = []
        self.dropped = 0  # events no longer held (the oldest), when over max_events
        self.error: BaseException | None = None
        self.done = False
        self.finished_at: float | None = None
        self._changed = asyncio.Condition()
        self._listeners = 0
        self.task: asyncio.Task[None] | None = None
        self._orphaned: asyncio.TimerHandle | None = None

    async def deliver(self, event: Numbered) -> None:
        async with self._changed:
            self.events.append(event)
            if len(self.events) > self._max:
                # Keep the final answer reachable: drop the oldest deltas first.
                del self.events[0]
                self.dropped += 1
            self._changed.notify_all()

    async def end(self, error: BaseException | None = None) -> None:
        async with self._changed:
            self.error = error
            self.done = True
            self.finished_at = time.monotonic()
            self._changed.notify_all()

    async def listen(self, after: int = 0) -> AsyncGenerator[Numbered, None]:
        """Events with a sequence above ``after``, as they come, until the run ends."""
        self._listeners += 1
        if self._orphaned is not None:
            self._orphaned.cancel()
            self._orphaned = None
        try:
            while True:
                async with self._changed:
                    await self._changed.wait_for(partial(self._ready, after))
                    fresh = self._after(after)
                    finished = self.done
                for event in fresh:
                    yield event
                    after = event.sequence
                if finished and not self._after(after):
                    return
        finally:
            self._listeners -= 1
            if self._listeners == 0 and not self.done:
                self._abandoned()

    def _after(self, after: int) -> list[Numbered]:
        """The held events after sequence ``after`` (FAILED_PRECONDITION if some of them are
        no longer held: a listener that far behind cannot be given an unbroken stream)."""
        if not self.events:
            return []
        first = self.events[0].sequence
        if after + 1 < first:
            raise errors.FailedPrecondition(
                f"events after sequence {after} of request {self.key[1]!r} are no longer held; "
                "read its answer with GetResult, or send the request again"
            )
        return self.events[after + 1 - first :]

    def _ready(self, after: int) -> bool:
        return self.done or (bool(self.events) and self.events[-1].sequence > after)

    def _abandoned(self) -> None:
        """Nobody listens: stop now, or after the grace period for re-attaching."""
        if self.task is None or self.task.done():
            return
        if self._grace <= 0:
            self.task.cancel()
            return
        loop = asyncio.get_running_loop()
        self._orphaned = loop.call_later(self._grace, self.task.cancel)


class StreamHub:
    """The runs of this supervisor, by tenant and request id."""

    def __init__(self, *, resume_window_s: float, max_events: int, detach_grace_s: float) -> None:
        self._window = resume_window_s
        self._max = max_events
        self._grace = detach_grace_s
        self._runs: dict[Key, StreamRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, key: Key) -> StreamRun | None:
        self._evict()
        return self._runs.get(key)

    def start(
        self,
        key: Key | None,
        fingerprint: str,
        produce: Callable[[StreamRun], Awaitable[None]],
    ) -> StreamRun:
        """A new run of ``produce`` (held under ``key`` when the caller chose the id)."""
        self._evict()
        run = StreamRun(
            key or ("", ""),
            fingerprint,
            max_events=self._max,
            grace_s=self._grace if key is not None else 0.0,
        )

        async def body() -> None:
            try:
                await produce(run)
            except asyncio.CancelledError:
                await run.end(errors.Unavailable("the stream was cancelled"))
                raise
            except BaseException as exc:  # handed to every listener, as Ask would raise it
                await run.end(exc)
                return
            await run.end()

        run.task = asyncio.create_task(body(), name=f"ask-stream {run.key[1]}")
        self._tasks.add(run.task)
        run.task.add_done_callback(self._tasks.discard)
        if key is not None and self._window > 0:
            self._runs[key] = run
        return run

    def _evict(self) -> None:
        now = time.monotonic()
        for key, run in list(self._runs.items()):
            if run.finished_at is not None and now - run.finished_at > self._window:
                del self._runs[key]

    async def close(self) -> None:
        """Cancels what still runs and waits for it (the supervisor is stopping)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._runs.clear()
