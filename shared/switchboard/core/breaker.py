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

One type serves every breaker in the system (the supervisor's per-agent breakers, each
agent's LLM breaker): ``publish`` tells the outside (gRPC health) when the state changed,
and :class:`BreakerMetrics` reports every breaker of a process as one gauge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
#: Tells the outside world (e.g. gRPC health) a breaker's new state.
Publisher = Callable[[str, BreakerState], Awaitable[None]]


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
        publish: Publisher | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or reset_timeout_s <= 0:
            raise ValueError("breaker thresholds must be positive")
        self.name = name
        self._threshold = failure_threshold
        self._reset_timeout = reset_timeout_s
        self._half_open_max = half_open_max_calls
        self._clock = clock
        self._on_change = on_change
        self._publisher = publish
        self._published: BreakerState | None = None
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

    async def succeeded(self) -> None:
        """Records a success and publishes the state if it changed."""
        self.record_success()
        await self.publish()

    async def failed(self) -> None:
        """Records a failure and publishes the state if it changed."""
        self.record_failure()
        await self.publish()

    async def publish(self, *, force: bool = False) -> None:
        """Calls the publisher when the state differs from the last one published."""
        state = self.state
        if self._publisher is not None and (force or state is not self._published):
            self._published = state
            await self._publisher(self.name, state)

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


class BreakerMetrics:
    """Every breaker of a process as one gauge (0 closed, 1 half-open, 2 open) and a counter
    of transitions, labelled by breaker name plus any attributes given at :meth:`track`."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("switchboard.breakers")
        self._tracked: list[tuple[CircuitBreaker, dict[str, str]]] = []
        meter.create_observable_gauge(
            "switchboard.breaker.state",
            callbacks=[self._observe],
            unit="1",
            description="Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.",
        )
        self._changes = meter.create_counter(
            "switchboard.breaker.transitions",
            unit="{transition}",
            description="Circuit breaker state changes by breaker and new state.",
        )

    def track(self, breaker: CircuitBreaker, **attributes: str) -> CircuitBreaker:
        attrs = {"breaker": breaker.name, **attributes}
        self._tracked.append((breaker, attrs))
        previous = breaker._on_change

        def changed(name: str, state: BreakerState) -> None:
            self._changes.add(1, {**attrs, "state": state.value})
            if previous is not None:
                previous(name, state)

        breaker._on_change = changed
        return breaker

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(STATE_VALUE[b.state], attrs) for b, attrs in self._tracked]
