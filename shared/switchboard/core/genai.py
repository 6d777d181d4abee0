"""OpenTelemetry GenAI semantic conventions: attribute names, spans and metrics for LLM calls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, trace

from switchboard.core.telemetry import mark_error, tracer

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
AGENT_NAME = "gen_ai.agent.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DESCRIPTION = "gen_ai.tool.description"
DATA_SOURCE = "gen_ai.data_source.id"
TOKEN_TYPE = "gen_ai.token.type"
#: The prompt version that answered (``billing@v2``); no GenAI convention names it yet.
PROMPT_VERSION = "gen_ai.prompt.version"

# Bucket boundaries the conventions recommend for the two client metrics.
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864]  # fmt: skip
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92]  # fmt: skip


class GenAIMetrics:
    """``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration``."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("switchboard.genai")
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Tokens used per LLM call, by token type.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="Duration of LLM calls.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )


@contextmanager
def chat_span(
    *,
    provider: str,
    model: str,
    max_tokens: int,
    system: str,
    messages: Sequence[dict[str, Any]],
    meters: GenAIMetrics,
    capture_content: bool = False,
) -> Iterator[ChatRecorder]:
    """A ``chat {model}`` client span; the caller records the outcome on the recorder.
    ``capture_content`` (opt-in) records prompt and completion text on the span."""
    attributes: dict[str, Any] = {
        OPERATION: "chat",
        PROVIDER: provider,
        REQUEST_MODEL: model,
        REQUEST_MAX_TOKENS: max_tokens,
    }
    if capture_content:
        attributes["gen_ai.system_instructions"] = json.dumps([{"type": "text", "content": system}])
        attributes["gen_ai.input.messages"] = json.dumps(list(messages))
    with tracer().start_as_current_span(
        f"chat {model}",
        kind=trace.SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        recorder = ChatRecorder(
            span,
            meters,
            {OPERATION: "chat", PROVIDER: provider, REQUEST_MODEL: model},
            capture_content=capture_content,
        )
        try:
            yield recorder
        except BaseException as exc:
            recorder.failed(type(exc).__name__)
            raise
        finally:
            recorder.finish()


@contextmanager
def tool_span(name: str, call_id: str, *, description: str = "") -> Iterator[trace.Span]:
    """An ``execute_tool {name}`` span; the caller marks errors (``mark_error``)."""
    with tracer().start_as_current_span(
        f"execute_tool {name}",
        kind=trace.SpanKind.INTERNAL,
        attributes={
            OPERATION: "execute_tool",
            TOOL_NAME: name,
            TOOL_CALL_ID: call_id,
            TOOL_TYPE: "function",
            TOOL_DESCRIPTION: description,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            mark_error(span, type(exc).__name__)
            raise


class ChatRecorder:
    def __init__(
        self,
        span: trace.Span,
        meters: GenAIMetrics,
        base: dict[str, Any],
        *,
        capture_content: bool = False,
    ) -> None:
        self.span = span
        self._capture = capture_content
        self._meters = meters
        self._base = base
        self._started = time.perf_counter()
        self._error: str | None = None

    def succeeded(
        self,
        *,
        response_model: str,
        response_id: str,
        finish_reason: str,
        input_tokens: int,
        output_tokens: int,
        cache_read: int,
        cache_creation: int,
        output_text: str,
    ) -> None:
        total_in = input_tokens + cache_read + cache_creation
        self.span.set_attributes(
            {
                RESPONSE_MODEL: response_model,
                RESPONSE_ID: response_id,
                FINISH_REASONS: [finish_reason] if finish_reason else [],
                INPUT_TOKENS: total_in,
                OUTPUT_TOKENS: output_tokens,
                CACHE_READ_TOKENS: cache_read,
                CACHE_CREATION_TOKENS: cache_creation,
            }
        )
        if self._capture:
            self.span.set_attribute(
                "gen_ai.output.messages",
                json.dumps([{"role": "assistant", "content": output_text}]),
            )
        attrs = {**self._base, RESPONSE_MODEL: response_model}
        self._meters.tokens.record(total_in, {**attrs, TOKEN_TYPE: "input"})
        self._meters.tokens.record(output_tokens, {**attrs, TOKEN_TYPE: "output"})

    def failed(self, error_type: str, message: str = "") -> None:
        if self._error is None:
            self._error = error_type
            mark_error(self.span, error_type, message)

    def finish(self) -> None:
        attrs = dict(self._base)
        if self._error:
            attrs["error.type"] = self._error
        self._meters.duration.record(time.perf_counter() - self._started, attrs)
