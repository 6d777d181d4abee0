"""A circuit breaker: stop calling a dependency that keeps failing, probe it now and then.

CLOSED passes every call. ``failure_threshold`` consecutive failures open it: calls are
refused at once (no waiting on a dead agent or a provider in a 529 storm). After
``reset_timeout_s`` it lets ``half_open_max_calls`` probes through (HALF_OPEN); a probe that
succeeds closes it, one that fails opens it again.

Usage::

    if not breaker.allow():
        ...  # degrade or escalate without calling
    try:
        result = await call()
    except SomeFailure:
        breaker.record_failure()
        raise
    breaker.record_success()

Callers decide what counts as a failure: a caller's own mistake (INVALID_ARGUMENT) says
nothing about the dependency's health and must not be recorded as one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 10.0,
        half_open_max_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or reset_timeout_s <= 0:
            raise ValueError("breaker thresholds must be positive")
        self.name = name
        self._threshold = failure_threshold
        self._reset_timeout = reset_timeout_s
        self._half_open_max = half_open_max_calls
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        """The state now (an OPEN breaker past its timeout reads HALF_OPEN)."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._reset_timeout
        ):
            self._set(BreakerState.HALF_OPEN)
            self._probes = 0
        return self._state

    @property
    def retry_after_s(self) -> float:
        """Seconds until the next probe is allowed (0 unless OPEN)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._reset_timeout - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """Whether a call may go ahead now; a HALF_OPEN breaker admits a few probes."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._probes < self._half_open_max:
            self._probes += 1
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or (
            self._state is BreakerState.CLOSED and self._failures >= self._threshold
        ):
            self._open()

    def release_probe(self) -> None:
        """A probe ended with neither verdict (e.g. the caller cancelled): free its slot."""
        if self._state is BreakerState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def _open(self) -> None:
        self._opened_at = self._clock()
        self.opened_count += 1
        self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        if state is self._state:
            return
        self._state = state
        log.warning("circuit breaker %s", state.value, extra={"breaker": self.name})
        if self._on_change is not None:
            self._on_change(self.name, state)
