"""Time to first token: the GenAI server histograms, the span attributes, the waterfall, and
the command line's printing of a stream (no network)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchboard.core.stream_metrics import TPOT_METRIC, TTFT_ATTRIBUTE, TTFT_METRIC, StreamMetrics
from switchboard.devtools.otlp_decode import ReceivedSpan
from switchboard.devtools.stream_print import print_stream
from switchboard.devtools.waterfall import render
from switchboard.v1 import common_pb2, supervisor_pb2


def test_ttft_and_time_per_token_are_recorded_on_metrics_and_the_span() -> None:
    reader = InMemoryMetricReader()
    metrics = StreamMetrics("agent", MeterProvider(metric_readers=[reader]).get_meter("t"))
    exporter = InMemorySpanExporter()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.get_tracer("t").start_as_current_span("server"):
        clock = metrics.clock()
        for _ in range(5):
            clock.text()
        clock.done(output_tokens=20)
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None and float(span.attributes[TTFT_ATTRIBUTE]) >= 0  # type: ignore[arg-type]
    data = reader.get_metrics_data()
    assert data is not None
    names = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    assert {TTFT_METRIC, TPOT_METRIC} <= set(names)
    point: Any = next(iter(names[TTFT_METRIC].data.data_points))
    assert point.count == 1 and dict(point.attributes) == {"switchboard.service": "agent"}


def test_waterfall_shows_time_to_first_token() -> None:
    def span(name: str, span_id: str, parent: str, end: int, **attrs: object) -> ReceivedSpan:
        return ReceivedSpan(
            trace_id="a" * 32, span_id=span_id, parent_span_id=parent, name=name,
            kind="SERVER", service_name="svc", attributes=dict(attrs),  # type: ignore[arg-type]
            start_time_unix_nano=0, end_time_unix_nano=end,
        )  # fmt: skip

    root = span(
        "/switchboard.v1.Supervisor/AskStream",
        "1",
        "",
        100_000_000,
        **{"switchboard.stream.time_to_first_token_s": 0.0123},
    )
    chat = span("chat m", "2", "1", 90_000_000, **{"gen_ai.response.time_to_first_chunk": 0.008})
    lines = render([root, chat]).splitlines()
    assert "ttft 12.3ms" in lines[1] and "▏" in lines[1]
    assert "ttft 8.0ms" in lines[2]


async def test_stream_printing_shows_text_as_it_comes_and_resets() -> None:
    def event(seq: int, **kw: object) -> supervisor_pb2.AskEvent:
        return supervisor_pb2.AskEvent(sequence=seq, **kw)  # type: ignore[arg-type]

    async def events() -> AsyncIterator[supervisor_pb2.AskEvent]:
        yield event(1, route=supervisor_pb2.RouteDecision(agent="billing", method="embedding"))
        yield event(2, text=supervisor_pb2.TextDeltaEvent(agent="billing", text="Claude "))
        yield event(3, reset=supervisor_pb2.ResetEvent(agent="billing", reason="llm_failed"))
        yield event(4, text=supervisor_pb2.TextDeltaEvent(agent="billing", text="Offline."))
        yield event(
            5, final=supervisor_pb2.AskResponse(answer="Offline.", status=common_pb2.DEGRADED)
        )

    out = io.StringIO()
    final = await print_stream(events(), out)
    assert final is not None and final.answer == "Offline."
    printed = out.getvalue()
    assert "route: embedding -> billing" in printed
    assert "| Claude \n   (rewritten: llm_failed)\n   | Offline." in printed
    assert "status=DEGRADED" in printed and "ttft=" in printed
