"""The agent's LLM circuit breaker, with its state in metrics and in gRPC health.

While the breaker is open the agent answers offline at once (DEGRADED) instead of waiting on
a provider that keeps failing. The health service ``switchboard.v1.Agent/llm`` reads
NOT_SERVING until a probe succeeds; the agent itself stays SERVING since it can still answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from switchboard.core.breaker import STATE_VALUE, BreakerState, CircuitBreaker

HEALTH_SERVICE = "switchboard.v1.Agent/llm"
HealthPublisher = Callable[[bool], Awaitable[None]]


class LLMBreaker:
    """Wraps a :class:`CircuitBreaker`; publishes "LLM usable" whenever that changes."""

    def __init__(
        self,
        breaker: CircuitBreaker,
        *,
        agent: str,
        publish: HealthPublisher | None = None,
        meter: metrics.Meter | None = None,
    ) -> None:
        self.breaker = breaker
        self._publish = publish
        self._published: bool | None = None
        attrs = {"breaker": "llm", "switchboard.agent": agent}

        def observe(_: CallbackOptions) -> list[Observation]:
            return [Observation(STATE_VALUE[self.breaker.state], attrs)]

        (meter or metrics.get_meter("switchboard.agent")).create_observable_gauge(
            "switchboard.breaker.state",
            callbacks=[observe],
            unit="1",
            description="Circuit breaker state: 0 closed, 1 half-open, 2 open.",
        )

    def allow(self) -> bool:
        return self.breaker.allow()

    async def succeeded(self) -> None:
        self.breaker.record_success()
        await self.publish()

    async def failed(self) -> None:
        self.breaker.record_failure()
        await self.publish()

    def released(self) -> None:
        self.breaker.release_probe()

    async def publish(self) -> None:
        """Tells health whether the LLM is usable (breaker closed), when that has changed."""
        usable = self.breaker.state is BreakerState.CLOSED
        if self._publish is not None and usable != self._published:
            self._published = usable
            await self._publish(usable)
