"""Renders one trace as a terminal waterfall: service, step, start, duration and tokens.

Streamed calls also show their time to first token (``ttft``, from the request to the first
text: the supervisor's and the agent's server spans, each agent call and each LLM call) and
mark it on the bar with ``▏``."""

from __future__ import annotations

import contextlib
from collections import defaultdict

from switchboard.devtools.otlp_decode import ReceivedSpan
from switchboard.devtools.otlp_receiver import OtlpReceiver

BAR_WIDTH = 28
ROOT_SPAN = "/switchboard.v1.Supervisor/Ask"
ROOT_SPANS = (ROOT_SPAN, "/switchboard.v1.Supervisor/AskStream")
#: Time-to-first-token attributes, seconds (``core.stream_metrics``, ``core.llm_stream``).
TTFT_ATTRIBUTES = (
    "switchboard.stream.time_to_first_token_s",
    "gen_ai.response.time_to_first_chunk",
)


def wait_for_trace(
    receiver: OtlpReceiver, trace_id: str, timeout: float = 5.0
) -> list[ReceivedSpan]:
    """Waits for the root span, then for the server span of every agent call in the trace."""
    receiver.wait_for(lambda s: s.trace_id == trace_id and s.name in ROOT_SPANS, timeout)

    def complete(_: ReceivedSpan) -> bool:
        spans = receiver.trace(trace_id)
        calls = {s.span_id for s in spans if s.kind == "CLIENT" and s.name.startswith("/")}
        served = {s.parent_span_id for s in spans if s.kind == "SERVER"}
        return calls <= served

    # On a timeout, show what arrived: a missing agent span is itself worth seeing.
    with contextlib.suppress(TimeoutError):
        receiver.wait_for(complete, timeout)
    return receiver.trace(trace_id)


def ttft_ms(span: ReceivedSpan) -> float | None:
    """The span's time to first token in milliseconds, when it streamed."""
    for key in TTFT_ATTRIBUTES:
        value = span.attributes.get(key)
        if isinstance(value, int | float):
            return float(value) * 1000
    return None


def _tokens(span: ReceivedSpan) -> str:
    a = span.attributes
    ttft = ttft_ms(span)
    first = f"ttft {ttft:.1f}ms" if ttft is not None else ""
    if "gen_ai.usage.input_tokens" not in a:
        return first
    tokens_in, tokens_out = a["gen_ai.usage.input_tokens"], a.get("gen_ai.usage.output_tokens", 0)
    return " ".join(x for x in (f"{tokens_in!s} in / {tokens_out!s} out", first) if x)


def render(spans: list[ReceivedSpan]) -> str:
    if not spans:
        return "   (no spans received)"
    by_parent: dict[str, list[ReceivedSpan]] = defaultdict(list)
    ids = {s.span_id for s in spans}
    for s in spans:
        by_parent[s.parent_span_id if s.parent_span_id in ids else ""].append(s)
    start = min(s.start_time_unix_nano for s in spans)
    end = max(s.end_time_unix_nano for s in spans)
    total = max(end - start, 1)
    lines = [f"   {'service':<26} {'step':<44} {'start':>7} {'ms':>7}  {'':<{BAR_WIDTH}}  tokens"]

    def walk(parent: str, depth: int) -> None:
        for s in sorted(by_parent.get(parent, []), key=lambda x: x.start_time_unix_nano):
            offset = (s.start_time_unix_nano - start) / 1e6
            ms = (s.end_time_unix_nano - s.start_time_unix_nano) / 1e6
            left = int(BAR_WIDTH * (s.start_time_unix_nano - start) / total)
            width = max(1, int(BAR_WIDTH * (s.end_time_unix_nano - s.start_time_unix_nano) / total))
            bar = " " * left + "█" * width
            ttft = ttft_ms(s)
            if ttft is not None:  # where the first token came, on the bar
                at = min(BAR_WIDTH - 1, int(BAR_WIDTH * (offset * 1e6 + ttft * 1e6) / total))
                bar = bar.ljust(at + 1)[:at] + "▏" + bar[at + 1 :]
            bar = bar[:BAR_WIDTH]
            name = ("  " * depth + s.name)[:44]
            flag = " ✗" if s.status_code == "ERROR" else ""
            lines.append(
                f"   {s.service_name[:26]:<26} {name:<44} {offset:>7.1f} {ms:>7.1f}  "
                f"{bar:<{BAR_WIDTH}}  {_tokens(s)}{flag}"
            )
            walk(s.span_id, depth + 1)

    walk("", 0)
    return "\n".join(lines)
