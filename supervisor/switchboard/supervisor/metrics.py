"""The supervisor's request metrics: count, latency and errors per agent, route and status."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from switchboard.core.breaker import STATE_VALUE, BreakerState
from switchboard.core.genai import DURATION_BUCKETS


class SupervisorMetrics:
    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("switchboard.supervisor")
        self.requests = meter.create_counter(
            "switchboard.requests",
            unit="{request}",
            description="Ask requests by answering agent, route method and final status.",
        )
        self.duration = meter.create_histogram(
            "switchboard.request.duration",
            unit="s",
            description="Ask latency by answering agent, route method and final status.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.agent_calls = meter.create_counter(
            "switchboard.agent.calls",
            unit="{call}",
            description="Calls to agents by agent and outcome (error.type on failures).",
        )
        self._breakers: dict[str, int] = {}
        meter.create_observable_gauge(
            "switchboard.breaker.state",
            callbacks=[self._observe_breakers],
            unit="1",
            description="Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.",
        )
        self.breaker_changes = meter.create_counter(
            "switchboard.breaker.transitions",
            unit="{transition}",
            description="Circuit breaker state changes by breaker and new state.",
        )

    def record_breaker(self, name: str, state: BreakerState) -> None:
        self._breakers[name] = STATE_VALUE[state]
        self.breaker_changes.add(1, {"breaker": name, "state": state.value})

    def _observe_breakers(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, {"breaker": name}) for name, v in self._breakers.items()]

    def record_request(
        self, *, agent: str, method: str, status: str, seconds: float, error: str = ""
    ) -> None:
        attrs = {
            "switchboard.agent": agent,
            "switchboard.route.method": method,
            "switchboard.status": status,
        }
        if error:
            attrs["error.type"] = error
        self.requests.add(1, attrs)
        self.duration.record(seconds, attrs)

    def record_agent_call(self, agent: str, error: str = "") -> None:
        attrs = {"switchboard.agent": agent, "outcome": "error" if error else "ok"}
        if error:
            attrs["error.type"] = error
        self.agent_calls.add(1, attrs)
