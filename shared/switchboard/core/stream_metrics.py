"""Time to first token and time per output token of streamed answers (GenAI server metrics).

``gen_ai.server.time_to_first_token`` and ``gen_ai.server.time_per_output_token`` as the
GenAI semantic conventions name them, recorded by each service that streams (the agent:
from the request to its first text delta; the supervisor: from the request to the first
delta it relays), labelled ``switchboard.service``. The same figures go on the server span.
"""

from __future__ import annotations

import time

from opentelemetry import metrics, trace

TTFT_METRIC = "gen_ai.server.time_to_first_token"
TPOT_METRIC = "gen_ai.server.time_per_output_token"
#: Span attributes with the same figures, in seconds.
TTFT_ATTRIBUTE = "switchboard.stream.time_to_first_token_s"
TPOT_ATTRIBUTE = "switchboard.stream.time_per_output_token_s"
DELTAS_ATTRIBUTE = "switchboard.stream.text_deltas"
CANCELLED_ATTRIBUTE = "switchboard.stream.cancelled"

TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                7.5, 10.0]  # fmt: skip
TPOT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4,
                0.5, 0.75, 1.0, 2.5]  # fmt: skip


class StreamMetrics:
    """The two histograms, for one service."""

    def __init__(self, service: str, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("switchboard.streaming")
        self.service = service
        self.ttft = meter.create_histogram(
            TTFT_METRIC,
            unit="s",
            description="Time from the request to the first streamed text.",
            explicit_bucket_boundaries_advisory=TTFT_BUCKETS,
        )
        self.tpot = meter.create_histogram(
            TPOT_METRIC,
            unit="s",
            description="Time per output token after the first, of streamed answers.",
            explicit_bucket_boundaries_advisory=TPOT_BUCKETS,
        )

    def clock(self) -> StreamClock:
        return StreamClock(self)


class StreamClock:
    """Times one stream: call :meth:`text` for each text delta, :meth:`done` at the end.
    Create it at the start of the server's handler: its figures go on that span."""

    def __init__(self, metrics: StreamMetrics) -> None:
        self._metrics = metrics
        self._started = time.perf_counter()
        self.span = trace.get_current_span()
        self.first: float | None = None  # seconds to the first text
        self.deltas = 0

    def text(self) -> None:
        self.deltas += 1
        if self.first is None:
            self.first = time.perf_counter() - self._started
            attrs = {"switchboard.service": self._metrics.service}
            self._metrics.ttft.record(self.first, attrs)
            self.span.set_attribute(TTFT_ATTRIBUTE, round(self.first, 6))

    def done(self, output_tokens: int) -> None:
        """The stream ended; ``output_tokens`` as reported (the text deltas when 0)."""
        span = self.span
        span.set_attribute(DELTAS_ATTRIBUTE, self.deltas)
        tokens = output_tokens or self.deltas
        if self.first is None or tokens < 2:
            return
        per_token = (time.perf_counter() - self._started - self.first) / (tokens - 1)
        self._metrics.tpot.record(per_token, {"switchboard.service": self._metrics.service})
        span.set_attribute(TPOT_ATTRIBUTE, round(per_token, 6))

    def cancelled(self) -> None:
        """The caller went away (cancelled, deadline passed) before the stream ended."""
        self.span.add_event(
            "switchboard.stream.cancelled",
            {"elapsed_s": round(time.perf_counter() - self._started, 6), "deltas": self.deltas},
        )
        self.span.set_attribute(CANCELLED_ATTRIBUTE, True)
