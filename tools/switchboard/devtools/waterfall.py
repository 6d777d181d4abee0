"""Renders one trace as a terminal waterfall: service, step, start, duration and tokens."""

from __future__ import annotations

import contextlib
from collections import defaultdict

from switchboard.devtools.otlp_decode import ReceivedSpan
from switchboard.devtools.otlp_receiver import OtlpReceiver

BAR_WIDTH = 28
ROOT_SPAN = "/switchboard.v1.Supervisor/Ask"


def wait_for_trace(
    receiver: OtlpReceiver, trace_id: str, timeout: float = 5.0
) -> list[ReceivedSpan]:
    """Waits for the root span, then for the server span of every agent call in the trace."""
    receiver.wait_for(lambda s: s.trace_id == trace_id and s.name == ROOT_SPAN, timeout)

    def complete(_: ReceivedSpan) -> bool:
        spans = receiver.trace(trace_id)
        calls = {s.span_id for s in spans if s.kind == "CLIENT" and s.name.startswith("/")}
        served = {s.parent_span_id for s in spans if s.kind == "SERVER"}
        return calls <= served

    # On a timeout, show what arrived: a missing agent span is itself worth seeing.
    with contextlib.suppress(TimeoutError):
        receiver.wait_for(complete, timeout)
    return receiver.trace(trace_id)


def _tokens(span: ReceivedSpan) -> str:
    a = span.attributes
    if "gen_ai.usage.input_tokens" not in a:
        return ""
    tokens_in, tokens_out = a["gen_ai.usage.input_tokens"], a.get("gen_ai.usage.output_tokens", 0)
    return f"{tokens_in!s} in / {tokens_out!s} out"


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
            bar = (" " * left + "█" * width)[:BAR_WIDTH]
            name = ("  " * depth + s.name)[:44]
            flag = " ✗" if s.status_code == "ERROR" else ""
            lines.append(
                f"   {s.service_name[:26]:<26} {name:<44} {offset:>7.1f} {ms:>7.1f}  "
                f"{bar:<{BAR_WIDTH}}  {_tokens(s)}{flag}"
            )
            walk(s.span_id, depth + 1)

    walk("", 0)
    return "\n".join(lines)
