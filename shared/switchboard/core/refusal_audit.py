"""Audit rows for refused calls, aggregated, so a flood of bad calls cannot flood the audit log.

The first refusal of a kind (say ``auth_failure``, reason ``unknown_token``, for one method,
from one peer address) within a window is written at once; the ones after it in that window are only
counted, and one summary row (``detail.repeats``, ``detail.window_s``) is written when the
window has passed (at the next refusal, or when the service stops). 3,000 bad calls in three
seconds from one address are two rows, not 3,000.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.core.audit import AuditEvent, AuditSink, utcnow

MAX_KEYS = 10_000


@dataclass
class _Window:
    started: float
    first: AuditEvent
    repeats: int = 0


class RefusalAudit:
    def __init__(
        self,
        sink: AuditSink,
        *,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self._sink = sink
        self._window = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._open: OrderedDict[tuple[str, ...], _Window] = OrderedDict()

    def refused(self, key: tuple[str, ...], event: AuditEvent) -> None:
        now = self._clock()
        self._close_expired(now)
        window = self._open.get(key)
        if window is None or self._window <= 0:
            self._open[key] = _Window(now, event)
            self._sink.submit(event)
            while len(self._open) > self._max_keys:
                self._summarise(*self._open.popitem(last=False))
            return
        window.repeats += 1

    def flush(self) -> None:
        """Writes the summary of every open window (at shutdown)."""
        while self._open:
            self._summarise(*self._open.popitem(last=False))

    def _close_expired(self, now: float) -> None:
        while self._open:
            key, window = next(iter(self._open.items()))
            if now - window.started < self._window:
                break
            self._open.popitem(last=False)
            self._summarise(key, window)

    def _summarise(self, _key: tuple[str, ...], window: _Window) -> None:
        if window.repeats:
            detail = {**window.first.detail, "repeats": window.repeats, "window_s": self._window}
            self._sink.submit(window.first.model_copy(update={"detail": detail, "time": utcnow()}))
