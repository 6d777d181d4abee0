"""Work that runs after the answer has gone out, in one ordered chain per key.

Why: storing a turn (2 to 3 ms) and reading the user's facts from it (a model call with a key)
must not delay the answer, yet a session's turns must land in order and a later read of the
same session must see them. Each key (a session, or a user's facts) has a chain: new work
starts when the key's previous work has finished. The chains are owned here, never left to
fire and forget: ``settle`` waits for one key, ``flush`` for every key (erasure and listing
call it first), and the composition root drains them at shutdown before the store closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (tenant, session id) or (tenant, "user:" + user id)


class WriteBehind:
    """Per-key chains of after-answer work."""

    def __init__(self) -> None:
        self._pending: dict[Key, asyncio.Task[None]] = {}

    def submit(
        self,
        key: Key,
        work: Callable[[], Awaitable[object]],
        on_crash: Callable[[Exception], None] | None = None,
    ) -> None:
        """Runs ``work()`` once ``key``'s previous work has finished. An exception it lets
        out is logged and handed to ``on_crash`` (to be counted): nothing escapes a task."""
        before = self._pending.get(key)

        async def chained() -> None:
            if before is not None:
                await asyncio.wait({before})
            try:
                await work()
            except Exception as exc:
                log.exception("after-answer work crashed", extra={"key": key[1]})
                if on_crash is not None:
                    on_crash(exc)

        task = asyncio.create_task(chained(), name=f"write-behind {key[1]}")
        self._pending[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    async def settle(self, key: Key, timeout: float) -> None:
        """Waits, at most ``timeout`` seconds, for ``key``'s pending work on this replica."""
        pending = self._pending.get(key)
        if pending is not None:
            await asyncio.wait({pending}, timeout=max(timeout, 0.001))

    async def flush(self) -> None:
        """Waits until every piece of work submitted so far has finished."""
        while self._pending:
            await asyncio.wait(list(self._pending.values()))

    def _forget(self, key: Key, done: asyncio.Task[None]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
