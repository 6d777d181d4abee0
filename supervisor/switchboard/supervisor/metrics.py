"""The supervisor's request metrics: count, latency and errors per agent, route and status."""

from __future__ import annotations

from opentelemetry import metrics

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

    def record_request(
        self,
        *,
        agent: str,
        method: str,
        status: str,
        seconds: float,
        error: str = "",
        prompt_version: str = "",
    ) -> None:
        attrs = {
            "switchboard.agent": agent,
            "switchboard.route.method": method,
            "switchboard.status": status,
        }
        if prompt_version:  # a handful per agent (docs/prompts.md): compare versions
            attrs["switchboard.prompt.version"] = prompt_version
        if error:
            attrs["error.type"] = error
        self.requests.add(1, attrs)
        self.duration.record(seconds, attrs)

    def record_agent_call(self, agent: str, error: str = "") -> None:
        attrs = {"switchboard.agent": agent, "outcome": "error" if error else "ok"}
        if error:
            attrs["error.type"] = error
        self.agent_calls.add(1, attrs)
