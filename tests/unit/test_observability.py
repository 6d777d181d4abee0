from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchboard.core.llm import TokenUsage
from switchboard.core.logs import JsonFormatter
from switchboard.core.pricing import DEFAULT_PRICES, ModelPrice, estimate_cost, price_for
from switchboard.core.telemetry import BaggageSpanProcessor, with_request_baggage
from switchboard.devtools.otlp_decode import ReceivedSpan
from switchboard.devtools.waterfall import render


@pytest.fixture
def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    p = TracerProvider()
    p.add_span_processor(BaggageSpanProcessor())
    p.add_span_processor(SimpleSpanProcessor(exporter))
    return p, exporter


def test_baggage_is_copied_onto_spans(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    p, exporter = provider
    token = context.attach(with_request_baggage("req-1", "sess-1", ""))
    try:
        with p.get_tracer("t").start_as_current_span("work"):
            pass
    finally:
        context.detach(token)
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["switchboard.request_id"] == "req-1"
    assert span.attributes["switchboard.session_id"] == "sess-1"
    assert "switchboard.tenant" not in span.attributes  # empty values are not set
    assert baggage.get_baggage("switchboard.request_id") is None  # detached again


def test_json_log_lines_carry_trace_and_request_ids(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    p, _ = provider
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("unit"))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    token = context.attach(with_request_baggage("req-7", "", ""))
    try:
        with p.get_tracer("t").start_as_current_span("work") as span:
            logger.info("answered", extra={"agent": "billing"})
            ids = span.get_span_context()
    finally:
        context.detach(token)
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["event"] == "answered" and entry["level"] == "info"
    assert entry["service"] == "unit" and entry["agent"] == "billing"
    assert entry["trace_id"] == format(ids.trace_id, "032x")
    assert entry["span_id"] == format(ids.span_id, "016x")
    assert entry["request_id"] == "req-7" and entry["timestamp"].endswith("+00:00")


def test_cost_estimates_use_the_table() -> None:
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=100_000, cache_read_input_tokens=10)
    assert estimate_cost("claude-sonnet-4-5", usage, DEFAULT_PRICES) == pytest.approx(
        3.0 + 1.5 + 10 * 0.3 / 1e6
    )
    # dated model ids match their family; unknown models cost 0 rather than a guess
    assert (
        price_for("claude-sonnet-4-5-20250929", DEFAULT_PRICES)
        == DEFAULT_PRICES["claude-sonnet-4-5"]
    )
    assert estimate_cost("mystery-model", usage, DEFAULT_PRICES) == 0.0
    custom = {"mystery-model": ModelPrice(input=1.0, output=2.0)}
    assert estimate_cost("mystery-model", usage, custom) == pytest.approx(1.2)


def _span(
    name: str, span_id: str, parent: str, start: int, end: int, **attrs: object
) -> ReceivedSpan:
    return ReceivedSpan(
        trace_id="a" * 32,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind="INTERNAL",
        service_name="svc",
        attributes=dict(attrs),  # type: ignore[arg-type]
        start_time_unix_nano=start,
        end_time_unix_nano=end,
    )


def test_waterfall_nests_children_in_time_order() -> None:
    spans = [
        _span(
            "chat m",
            "3",
            "1",
            5_000_000,
            9_000_000,
            **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2},
        ),
        _span("root", "1", "", 0, 10_000_000),
        _span("retrieval c", "2", "1", 1_000_000, 4_000_000),
    ]
    lines = render(spans).splitlines()
    assert "root" in lines[1] and "  retrieval c" in lines[2] and "  chat m" in lines[3]
    assert "10 in / 2 out" in lines[3] and "10.0" in lines[1]
    assert render([]) == "   (no spans received)"
